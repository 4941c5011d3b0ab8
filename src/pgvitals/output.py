"""Write a Report in the requested formats, plus fix.sql and rollback.sql."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from pgvitals.render import RENDERERS
from pgvitals.render.text import render_text
from pgvitals.report import Report

FORMATS = tuple(RENDERERS)
SUFFIXES = {suffix: r.format for r in RENDERERS.values() for suffix in r.suffixes}


class OutputError(Exception):
    """The requested output cannot be produced as asked (exit code 2)."""


@dataclass(frozen=True)
class Target:
    format: str
    path: Path | None  # None: standard output


def plan_outputs(formats: tuple[str, ...], paths: tuple[Path, ...]) -> list[Target]:
    """`-o report.md` picks its format from the suffix; a bare `--format` goes to stdout."""
    targets = []
    for path in paths:
        fmt = SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            known = ", ".join(SUFFIXES)
            raise OutputError(f"cannot tell the format of {path} from its suffix ({known})")
        targets.append(Target(fmt, path))
    to_stdout = [f for f in formats if f not in {t.format for t in targets}]
    if len(to_stdout) > 1:
        raise OutputError("only one --format can go to standard output; name files with -o")
    targets.extend(Target(fmt, None) for fmt in to_stdout)
    if not targets:
        targets.append(Target("text", None))
    return targets


def write_outputs(report: Report, targets: list[Target], console: Console) -> list[Path]:
    """Write every target; the fix and rollback scripts go beside the first report file."""
    written: list[Path] = []
    for target in targets:
        if target.path is None:
            if target.format == "text":
                render_text(report, console)
            else:
                console.file.write(RENDERERS[target.format].render(report))
            continue
        target.path.parent.mkdir(parents=True, exist_ok=True)
        target.path.write_text(RENDERERS[target.format].render(report), encoding="utf-8")
        written.append(target.path)
    if written:
        folder = written[0].parent
        scripts = report.scripts
        (folder / "fix.sql").write_text(scripts.fix, encoding="utf-8")
        (folder / "rollback.sql").write_text(scripts.rollback, encoding="utf-8")
        written += [folder / "fix.sql", folder / "rollback.sql"]
    return written
