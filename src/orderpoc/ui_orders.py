"""What `send-test-order` saw: one order's hops, the invalid orders' answers, a load run's figures.

The load run's bars, table and latency histograms are drawn here; its HTML report is report.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars
from rich.text import Text

from orderpoc.ui import Column, console, fitted_table

if TYPE_CHECKING:  # only for types: importing the exercise would pull in boto3 for `--help`
    from orderpoc.invalid_orders import Case
    from orderpoc.load import LoadResult
    from orderpoc.trace import Trace

HOPS = ("accepted", "stored", "notified")  # as orderpoc.trace.HOPS, without importing boto3


def print_trace(trace: Trace) -> None:
    console.print(f"order {trace.order_id or '-'}  (HTTP {trace.http_status})")
    for hop in HOPS:
        if hop in trace.hops:
            console.print(f"  [green]✓[/] {hop:<9} {trace.hops[hop] * 1000:8.0f} ms")
        else:
            console.print(f"  [red]✗[/] {hop:<9}      not seen")
    for hint in trace.hints:
        console.print(f"  [yellow]{hint}[/]")
    if trace.ok:
        console.print("[bold green]The order went through every hop.[/]")


def print_invalid(cases: list[Case], stored: int | None) -> None:
    columns = [Column("case"), Column("expected", justify="right"), Column("got", justify="right"), Column("")]
    rows: list[list[str | Text]] = [
        [case.name, str(case.expected), str(case.got), Text("✓", "green") if case.ok else Text("✗", "red")]
        for case in cases
    ]
    console.print(fitted_table("invalid orders", columns, rows))
    if stored is None:
        console.print(
            "[red]unverified:[/] a valid order sent after them was not stored in time, "
            "so 'none stored' proves nothing; check `orderpoc status`"
        )
    else:
        console.print(f"stored: {stored} (must be 0)")


@contextmanager
def load_progress(count: int, *, enabled: bool = True) -> Iterator[Callable[[str, int], None]]:
    """One bar per hop on a terminal; yields the callback that advances a hop's bar."""
    columns = (TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    labels = {"accepted": "sent"}  # advanced per answered POST, accepted or not
    with Bars(*columns, console=console, disable=not enabled or not console.is_terminal) as bars:
        tasks = {hop: bars.add_task(labels.get(hop, hop), total=count) for hop in HOPS}
        yield lambda hop, n: bars.advance(tasks[hop], n)


def print_load(result: LoadResult, count: int, concurrency: int) -> None:
    columns = [Column("hop"), *(Column(h, justify="right") for h in ("count", "p50 ms", "p90 ms", "p99 ms"))]
    counts = {"accepted": result.accepted, "stored": result.stored, "notified": result.notified}
    rows: list[list[str | Text]] = []
    for hop in HOPS:
        cells = [f"{v * 1000:.0f}" if v is not None else "-" for v in result.latencies[hop].values()]
        rows.append([hop, str(counts[hop]), *cells])
    console.print(fitted_table(f"{count} orders, concurrency {concurrency}", columns, rows))
    console.print(
        f"rejected: {dict(result.rejected) or 0}  duplicates: {result.duplicates}  "
        f"repeated notifications: {result.duplicate_notifications}  "
        f"missing: {result.missing}  throughput: {result.orders_per_second:.1f} orders/s"
    )
    if result.below_rate:
        console.print(
            f"[yellow]warning:[/] the senders reached {result.send_rate:.1f} orders/s, below the requested "
            f"{result.requested_rate:g}/s: each sender waits for its answer, so raise --concurrency"
        )
    print_latency_histograms(result.timeline)
    if result.aborted:
        console.print(f"[bold red]Stopped early:[/] {result.aborted}. The figures above are what was seen until then.")


def print_latency_histograms(timeline: dict[str, list[tuple[float, float]]], bins: int = 8) -> None:
    """Per hop, how the orders' latencies are spread: one bar per latency bin, scaled to the width."""
    from orderpoc.charts import binned  # deferred: only a load run draws these

    for hop in HOPS:
        values = [latency * 1000 for _, latency in timeline.get(hop, [])]
        if not values:
            continue
        axis, step, counts = binned(values, bins)
        label_width = len(f"{axis.high:.0f}") * 2 + 4
        bar_room = max(10, min(60, console.width - label_width - 10))
        console.print(f"\n{hop}: latency in ms, {len(values)} orders", style="bold")
        for index, n in enumerate(counts):
            low, high = axis.low + index * step, axis.low + (index + 1) * step
            label = f"{low:.0f}-{high:.0f}".rjust(label_width)
            bar = "█" * max(1, round(n / max(counts) * bar_room)) if n else ""
            console.print(f"{label} ms {bar} {n if n else ''}".rstrip())
