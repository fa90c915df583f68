"""`orderpoc local logs`: the embedded AWS's own log file (server, pollers, stray worker output).

Cheap to import (no moto, no boto3). The file is append-only across restarts; following reads what
is appended, and starts over from the top if the file was replaced or cut.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

MIN_POLL, MAX_POLL = 0.2, 2.0


def tail(path: Path, lines: int) -> tuple[list[str], int]:
    """The last `lines` lines and the offset where they end (where following goes on)."""
    if not path.exists():
        return [], 0
    with path.open("rb") as handle:
        last = deque(handle, maxlen=max(lines, 0))
        offset = handle.tell()
    return [raw.decode(errors="replace").rstrip("\n") for raw in last], offset


def follow(
    path: Path,
    offset: int,
    on_line: Callable[[str], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
) -> None:
    """Every line appended from `offset` on, as it is written, until interrupted (or `polls` polls)."""
    pending, delay, done = b"", MIN_POLL, 0
    while polls is None or done < polls:
        size = path.stat().st_size if path.exists() else 0
        if size < offset:  # replaced or truncated: read the new file from its start
            offset, pending = 0, b""
        chunk = b""
        if size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(size - offset)
            offset += len(chunk)
        *complete, pending = (pending + chunk).split(b"\n")
        for raw in complete:
            on_line(raw.decode(errors="replace"))
        done += 1
        delay = MIN_POLL if chunk else min(delay * 2, MAX_POLL)
        if polls is None or done < polls:
            sleep(delay)
