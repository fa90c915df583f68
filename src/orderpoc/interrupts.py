"""Ctrl-C and SIGTERM, both as an exception and as a flag that stays set.

The handler raises KeyboardInterrupt wherever the main thread is, as Python's own does. But
Python drops an exception raised inside a finalizer (a `__del__`, a generator closed as it is
collected: "Exception ignored in ..."), so a command that runs until interrupted (`logs
--follow`, `up --watch`) could lose its Ctrl-C there and run on. Their loops wait on the flag
instead of sleeping, and stop when it is set.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

interrupted = threading.Event()


def _handler(signum: int, frame: Any) -> None:
    interrupted.set()
    raise KeyboardInterrupt


def install() -> None:
    """For the main thread of the CLI, before the command runs."""
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)  # a polite kill is handled like Ctrl-C


def sleep(seconds: float) -> None:
    """time.sleep that ends in KeyboardInterrupt once interrupted, even if the first one was lost."""
    if interrupted.wait(seconds):
        raise KeyboardInterrupt
