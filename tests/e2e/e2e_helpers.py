"""Helpers the end-to-end tests share (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.1) -> T:
    """Poll until predicate() is truthy and return it; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


# For a command a test stops with a signal: a hang then shows where each of its threads is.
DUMP_ON_ABORT = {"PYTHONFAULTHANDLER": "1"}


def wait_or_dump(process: subprocess.Popen, timeout: float) -> None:
    """Wait for the process to exit; if it does not, SIGABRT it (with DUMP_ON_ABORT in its environment
    faulthandler prints every thread's stack to its stderr first), reap it and fail."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        process.wait()
        raise AssertionError(f"{process.args} did not exit within {timeout}s; its stderr has its stacks") from None
