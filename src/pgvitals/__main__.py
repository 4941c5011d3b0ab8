"""`python -m pgvitals`: the command line, with Ctrl-C answered in one line from the
first moment (the imports take most of a short run's time)."""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
from types import FrameType
from typing import NoReturn


def leave_at_once(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C outside a command (while the modules load, or once it has ended): there is
    nothing to clean up, so leave without a traceback from whatever was importing."""
    try:
        os.write(2, b"pgvitals: interrupted\n")
    finally:
        os._exit(130)


def run() -> None:
    """The command line; the commands themselves turn Ctrl-C into KeyboardInterrupt
    (cli.Group.invoke), to stop what they started."""
    signal.signal(signal.SIGINT, leave_at_once)
    # A run builds millions of objects (175,000 columns at 10,000 tables) and no reference
    # cycles worth collecting; the cyclic collector would traverse them all again and
    # again, doubling the CPU time of collection. The process is short-lived.
    gc.disable()
    from pgvitals.cli import main

    try:
        main()
    except SystemExit as stop:
        status = stop.code
    finally:
        # The exit status is decided: a Ctrl-C now must not turn it into death by SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    leave(status)


def leave(status: object) -> NoReturn:
    """Exit without taking the interpreter apart: freeing the millions of objects of a
    large run one by one takes half a second at 10,000 tables, for nothing. What an
    ordinary exit still does is done first: the exit functions (an embedded server
    stopped, sessions closed) and writing out what is buffered."""
    atexit._run_exitfuncs()
    if status is None:
        code = 0
    elif isinstance(status, int):
        code = status
    else:  # sys.exit("message"): printed, status 1
        print(status, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
