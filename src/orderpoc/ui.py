"""Rendering: live progress of engine events, tables for status, plain lines when not on a terminal.

Nothing here calls AWS; it only turns events and reports into text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from orderpoc.engine import Event, Report

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_DONE_STYLE = {
    "create": ("created", "green"),
    "update": ("updated", "yellow"),
    "unchanged": ("unchanged", "dim"),
    "delete": ("deleted", "green"),
    "absent": ("already gone", "dim"),
}
_STATE_STYLE = {"ok": "green", "missing": "red", "drifted": "yellow", "unknown": "magenta"}


class Progress:
    """Collects engine events (from many threads) and shows one row per resource."""

    def __init__(self, title: str, *, live: bool) -> None:
        self.title = title
        self.rows: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.live = live
        self.started = time.monotonic()

    def __call__(self, event: Event) -> None:
        with self.lock:
            row = self.rows.setdefault(event.key, {"kind": event.kind, "name": event.name, "phase": "", "detail": ""})
            row.update(phase=event.phase, elapsed=event.elapsed)
            if event.phase == "done":
                row.update(action=event.action, detail=event.detail)
            elif event.detail:
                row["detail"] = event.detail
        if not self.live and event.phase in {"done", "failed", "skipped"}:
            console.print(self._line(event))

    def _line(self, event: Event) -> Text:
        label, style = self._status(self.rows[event.key])
        text = Text(f"{label:>12}  ", style=style)
        text.append(f"{event.kind:<21} {event.name}")
        if event.detail:
            text.append(f"  {event.detail}", style="dim")
        return text

    @staticmethod
    def _status(row: dict[str, Any]) -> tuple[str, str]:
        if row["phase"] == "done":
            return _DONE_STYLE.get(row.get("action", ""), (row.get("action", ""), ""))
        if row["phase"] == "failed":
            return "failed", "bold red"
        if row["phase"] == "skipped":
            return "skipped", "red"
        return "working", "cyan"

    def render(self) -> Table:
        table = Table(
            title=f"{self.title}  {time.monotonic() - self.started:5.1f}s", title_justify="left", expand=False
        )
        for column in ("", "resource", "name", "time", "detail"):
            table.add_column(column, overflow="fold")
        with self.lock:
            for row in self.rows.values():
                label, style = self._status(row)
                mark: Any = Spinner("dots", style="cyan") if label == "working" else Text(label, style=style)
                table.add_row(mark, row["kind"], row["name"], f"{row.get('elapsed', 0):.1f}s", row["detail"][:90])
        return table


@contextmanager
def progress(title: str, *, enabled: bool = True) -> Iterator[Progress]:
    """Live table on a terminal; one plain line per finished resource otherwise."""
    interactive = enabled and console.is_terminal
    tracker = Progress(title, live=interactive)
    if not enabled:
        tracker.live = True  # swallow plain lines too (--json)
        yield tracker
        return
    if not interactive:
        yield tracker
        return
    with Live(tracker.render(), console=console, refresh_per_second=8, transient=False) as live:
        stop = threading.Event()

        def refresh() -> None:
            while not stop.wait(0.125):
                live.update(tracker.render())

        thread = threading.Thread(target=refresh, daemon=True)
        thread.start()
        try:
            yield tracker
        finally:
            stop.set()
            thread.join()
            live.update(tracker.render())


def short_id(outputs: dict[str, Any]) -> str:
    """The identifier an operator recognises: an id, or the resource part of an ARN."""
    for key in ("id", "uuid", "statement_id", "stage"):
        if outputs.get(key):
            return str(outputs[key])
    arn = str(outputs.get("arn") or "")
    return arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn


def status_table(reports: list[Report]) -> Table:
    table = Table(title="orderpoc status", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("resource", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("state", overflow="fold")
    table.add_column("id", overflow="ellipsis", no_wrap=True, max_width=12)
    table.add_column("figures", overflow="fold")
    for report in reports:
        detail = "; ".join(report.drift) or report.error
        state = Text(report.state, style=_STATE_STYLE.get(report.state, ""))
        if detail:
            state.append(f"\n{detail}", style="dim")
        figures = "\n".join(f"{k}={v}" for k, v in report.figures.items())
        ident = short_id(report.outputs)
        # An ARN derived from the name says nothing new; full ARNs are in --json.
        table.add_row(report.key, report.name, state, "" if report.name in ident else ident, figures)
    return table
