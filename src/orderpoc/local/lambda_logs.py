"""A function's CloudWatch log stream lines, as the Lambda service writes them."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orderpoc.local import backends

_lock = threading.Lock()  # moto's LogStream.put_log_events is not thread-safe


@dataclass
class InvocationLog:
    """Collects one invocation's lines: START, the function's output, END and REPORT."""

    request_id: str
    version: str
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines.append(f"START RequestId: {self.request_id} Version: {self.version}")

    def output(self, text: str) -> None:
        """The function's captured output: one event per line, as Lambda splits stdout."""
        self.lines.extend(line for line in text.splitlines() if line.strip())

    def error(self, error: dict[str, Any]) -> None:
        """An unhandled error: one multi-line event, like the Python runtime's [ERROR] record."""
        trace = "".join(error.get("stackTrace") or [])
        text = f"[ERROR] {error.get('errorType')}: {error.get('errorMessage')}"
        if trace:
            text += "\nTraceback (most recent call last):\n" + trace.rstrip("\n")
        self.lines.append(text)

    def timed_out(self, seconds: float) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.lines.append(f"{stamp} {self.request_id} Task timed out after {seconds:.2f} seconds")

    def finish(self, duration_ms: float, memory: int, max_rss_mb: int, init_ms: float | None) -> None:
        self.lines.append(f"END RequestId: {self.request_id}")
        report = (
            f"REPORT RequestId: {self.request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {memory} MB\t"
            f"Max Memory Used: {max_rss_mb} MB"
        )
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        self.lines.append(report)

    def tail(self, limit: int = 4096) -> str:
        """The last 4 KB, what Invoke returns in X-Amz-Log-Result with LogType=Tail."""
        text = "\n".join(self.lines) + "\n"
        return text.encode()[-limit:].decode(errors="ignore")


def write(account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in lines]
    with _lock:
        backends.put_log_events(account, region, group, stream, events)
