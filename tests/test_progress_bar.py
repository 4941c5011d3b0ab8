"""The progress display: a spinner naming the step, and a bar over the tables whose
rows are read, shown only once reading takes more than a moment."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from pgvitals import cli


def test_the_bar_appears_only_after_a_moment_and_goes_when_done(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    with Progress(console=Console(file=io.StringIO())) as progress:
        display = cli.Display(progress, "collecting ")
        [task] = progress.tasks
        display("data: public.a")
        assert task.description == "collecting data: public.a"
        display.count(0, 40)
        clock[0] += 0.5
        display.count(10, 40)
        assert len(progress.tasks) == 1  # under a second: the spinner alone
        clock[0] += 0.6
        display.count(20, 40)
        bar = progress.tasks[1]
        assert (bar.total, bar.completed) == (40, 20)
        display.count(30, 40)
        assert bar.completed == 30
        display.count(40, 40)
        assert progress.tasks == [task]  # done: the spinner alone for the next steps
