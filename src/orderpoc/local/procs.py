"""Process inspection and process-group termination for the emulator's lifecycle (Linux /proc,
with a plain-signal fallback elsewhere)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

STOP_GRACE = 10.0  # seconds the server gets to stop its pollers and workers after SIGTERM
KILL_GRACE = 5.0
PF_EXITING = 0x4  # the kernel's task flag: set as the process starts to exit (include/linux/sched.h)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Running: not a zombie (it only waits for its parent to reap it), and not on its way out.
    A killed process closes its sockets (connections to it are refused) before its main thread
    turns zombie; under load that takes a while, and a caller told "alive" then would take the
    refusal for an error of a running server. The exit flag is set before the first socket closes."""
    stat = _stat(pid)
    if stat is not None:
        return stat[0] not in {"Z", "X"} and not int(stat[6]) & PF_EXITING
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not Path("/proc").is_dir()


def cmdline_has(pid: int, *parts: bytes) -> bool | None:
    """Whether the process's argv contains every part; None when /proc cannot tell."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None if not Path("/proc").is_dir() else False
    return all(part in argv for part in parts)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] != "Z" and int(stat[2]) == pgid:
                members.append(int(entry.name))
    return members


def terminate_group(pid: int, alive: Callable[[int], bool] = alive) -> None:
    """SIGTERM the leader's group (server + workers), wait, then SIGKILL whatever is left."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, KILL_GRACE)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not alive(pid) and not group_members(pgid):
                return
            time.sleep(0.05)
