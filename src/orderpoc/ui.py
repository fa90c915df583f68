"""What every ui_* module prints with: the two consoles, the one table style and the notice line.

Nothing here calls AWS. The CLI imports this and the ui_* modules on first use (cli/lazy.py), so
rich is not loaded for `--help`. The consoles are shared module-level objects that each ui_* module
imports by name: a test that swaps one patches it where it is looked up, in the printer's module
and here, where fitted_table measures the width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

# soft_wrap: a line longer than the width is left for the terminal to wrap, never cut mid-word by
# rich; tables and progress lay themselves out to the width instead.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class Column:
    """A column of a fitted table: `drop` > 0 may be dropped to fit (highest first), `shorten` is
    tried on every cell before anything is dropped, a `flexible` column may fold as a last resort."""

    header: str
    drop: int = 0
    shorten: Callable[[str], str] | None = None
    justify: Literal["left", "right"] = "left"
    flexible: bool = False


FLEXIBLE_ROOM = 24


def fitted_table(
    title: str | None, columns: list[Column], rows: list[list[str | Text]], width: int | None = None
) -> Table:
    """One table style for every command, fitted to the width (80 columns off a terminal) by
    shortening, then dropping, columns: names and ids are never wrapped mid-word."""
    width = width or console.width

    def build(keep: list[int], short: bool, measuring: bool = False) -> Table:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for i in keep:
            column = columns[i]
            table.add_column(
                column.header,
                justify=column.justify,
                no_wrap=not column.flexible,
                overflow="fold",
                # a flexible column folds into whatever room is left: it only has to fit this much
                max_width=FLEXIBLE_ROOM if column.flexible and measuring else None,
            )
        for row in rows:
            table.add_row(*(_shortened(row[i], columns[i].shorten if short else None) for i in keep))
        return table

    def fits(table: Table) -> bool:
        return Measurement.get(console, console.options.update(width=10_000), table).maximum <= width

    keep = list(range(len(columns)))
    if fits(build(keep, False, measuring=True)):
        return build(keep, False)
    for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop):
        if fits(build(keep, True, measuring=True)):
            return build(keep, True)
        keep.remove(i)
    return build(keep, True)  # still too wide: the flexible column folds


def _shortened(cell: str | Text, shorten: Callable[[str], str] | None) -> str | Text:
    if shorten is None:
        return cell
    if isinstance(cell, Text):
        return Text(shorten(cell.plain), style=cell.style)
    return shorten(cell)


def print_notices(notices: list[str]) -> None:
    for notice in notices:
        console.print(f"[yellow]note:[/] {notice}")
