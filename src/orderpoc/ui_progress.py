"""Live progress of the engine's events for `up` and `down`: one row per resource.

A live table on a terminal, one plain line per finished resource otherwise; `--json` shows none.
Kept apart from ui_plan, whose change text it reuses: this is the one view that threads and refreshes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich import box
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from orderpoc.ui import console
from orderpoc.ui_plan import done_detail

if TYPE_CHECKING:  # only for types: importing the engine would pull in boto3 for `--help`
    from orderpoc.engine_types import Event

_DONE_STYLE = {
    "create": ("created", "green"),
    "update": ("updated", "yellow"),
    "replace": ("replaced", "magenta"),
    "unchanged": ("unchanged", "dim"),
    "delete": ("deleted", "green"),
    "forget": ("forgotten (was gone)", "dim"),
    "absent": ("already gone", "dim"),
}


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
                row.update(action=event.action, detail=event.detail or done_detail(event))
            elif event.detail:
                row["detail"] = event.detail
        if not self.live and event.phase in {"done", "failed", "skipped"}:
            console.print(self._line(event))

    def _line(self, event: Event) -> Text:
        row = self.rows[event.key]
        label, style = self._status(row)
        text = Text(f"{label:>12}  ", style=style)
        text.append(f"{event.kind:<21} {event.name}")
        if row["detail"]:
            text.append(f"  {row['detail']}", style="dim")
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
            title=f"{self.title}  {time.monotonic() - self.started:5.1f}s",
            title_justify="left",
            box=box.SIMPLE_HEAD,  # the one table style (fitted_table's)
            show_edge=False,
            pad_edge=False,
        )
        for column in ("", "resource", "name", "time"):
            table.add_column(column, no_wrap=True)
        table.add_column("detail", overflow="fold")
        with self.lock:
            for row in self.rows.values():
                label, style = self._status(row)
                mark: Any = Spinner("dots", style="cyan") if label == "working" else Text(label, style=style)
                table.add_row(mark, row["kind"], row["name"], f"{row.get('elapsed', 0):.1f}s", row["detail"][:90])
        return table


@contextmanager
def progress(title: str) -> Iterator[Progress]:
    """Live table on a terminal; one plain line per finished resource otherwise. (--json shows no
    progress: its callers pass no tracker to the engine.)"""
    interactive = console.is_terminal
    tracker = Progress(title, live=interactive)
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
