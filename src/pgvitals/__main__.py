"""`python -m pgvitals`: the command line, with Ctrl-C answered in one line from the
first moment (the imports take most of a short run's time)."""

from __future__ import annotations

import gc
import os
import signal
from types import FrameType


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
    finally:
        # The exit status is decided: a Ctrl-C now must not turn it into death by SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    run()
