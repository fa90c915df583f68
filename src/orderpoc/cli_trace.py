"""`orderpoc send-test-order`: one order followed hop by hop, a set of invalid ones, or a load test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orderpoc import app, stack, ui
from orderpoc.cli import _print_json, cli, common_options
from orderpoc.errors import UserError
from orderpoc.invalid import run_invalid
from orderpoc.load import LoadResult, run_load
from orderpoc.probe import find_endpoints, subscribed
from orderpoc.settings import Settings
from orderpoc.trace import HOPS, Trace, follow_one, sample_order


@cli.command("send-test-order", short_help="Send an order and follow it through every hop.")
@common_options
@click.option(
    "--order",
    "order_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with the order to send.",
)
@click.option("--customer", default="cust-demo", show_default=True, help="customerId of the generated order.")
@click.option("--sku", default="SKU-001", show_default=True, help="SKU of the generated order's item.")
@click.option("--quantity", default=2, show_default=True, type=click.IntRange(1, 1000), help="Item quantity.")
@click.option("--invalid", is_flag=True, help="Send a set of bad orders; each must get its 4xx, none stored.")
@click.option(
    "--count",
    default=1,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many orders (more than 1 is load mode).",
)
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256), help="Parallel senders.")
@click.option("--rate", type=click.FloatRange(min=0.1), help="Orders per second at most (load mode).")
@click.option(
    "--timeout", default=30.0, show_default=True, type=click.FloatRange(min=1), help="Seconds to wait for every hop."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def send_test_order(
    settings: Settings,
    order_file: Path | None,
    customer: str,
    sku: str,
    quantity: int,
    invalid: bool,
    count: int,
    concurrency: int,
    rate: float | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Post an order through the API and follow it: accepted, stored, notified.

    Exits 0 only when every hop was seen within --timeout. With --count N it is a load test that
    fails if any order is lost or duplicated.
    """
    order = _read_order(order_file) if order_file else sample_order(customer, sku, quantity)
    with app.open_session(settings, lock=False) as session:
        endpoints = find_endpoints(session.ctx, settings.names, session.clients.endpoint_url, stack.STAGE)
        if invalid:
            return _invalid(session, endpoints, timeout, as_json)
        with subscribed(session.ctx, settings.names, endpoints.topic_arn) as subscription:
            if count == 1:
                trace = follow_one(session.ctx, settings.names, endpoints, subscription, order, timeout)
                _show_trace(trace, as_json)
                ok = trace.ok
            else:
                result = _load(session, endpoints, subscription, count, concurrency, rate, timeout, as_json)
                ok = result.ok
    if not ok:
        raise SystemExit(1)


def _read_order(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UserError(f"{path} must hold a JSON object (an order)")
    return document


def _show_trace(trace: Trace, as_json: bool) -> None:
    if as_json:
        _print_json(trace.as_json())
        return
    ui.console.print(f"order {trace.order_id or '-'}  (HTTP {trace.http_status})")
    for hop in HOPS:
        if hop in trace.hops:
            ui.console.print(f"  [green]✓[/] {hop:<9} {trace.hops[hop] * 1000:8.0f} ms")
        else:
            ui.console.print(f"  [red]✗[/] {hop:<9}      not seen")
    for hint in trace.hints:
        ui.console.print(f"  [yellow]{hint}[/]")
    if trace.ok:
        ui.console.print("[bold green]The order went through every hop.[/]")


def _invalid(session: app.Session, endpoints: Any, timeout: float, as_json: bool) -> None:
    cases, stored = run_invalid(session.ctx, endpoints, timeout)
    ok = all(case.ok for case in cases) and stored == 0
    if as_json:
        _print_json(
            {
                "ok": ok,
                "stored": stored,
                "cases": [{"case": c.name, "expected": c.expected, "got": c.got, "ok": c.ok} for c in cases],
            }
        )
    else:
        table = Table(title="invalid orders", title_justify="left")
        for column in ("case", "expected", "got", ""):
            table.add_column(column)
        for case in cases:
            table.add_row(case.name, str(case.expected), str(case.got), "[green]✓[/]" if case.ok else "[red]✗[/]")
        ui.console.print(table)
        if stored is None:
            ui.console.print(
                "[red]unverified:[/] a valid order sent after them was not stored in time, "
                "so 'none stored' proves nothing; check `orderpoc status`"
            )
        else:
            ui.console.print(f"stored: {stored} (must be 0)")
    if not ok:
        raise SystemExit(1)


def _load(
    session: app.Session,
    endpoints: Any,
    subscription: Any,
    count: int,
    concurrency: int,
    rate: float | None,
    timeout: float,
    as_json: bool,
) -> LoadResult:
    columns = (TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=ui.console, disable=as_json or not ui.console.is_terminal) as bar:
        tasks = {hop: bar.add_task(hop, total=count) for hop in HOPS}
        result = run_load(
            session.ctx,
            endpoints,
            subscription,
            count=count,
            concurrency=concurrency,
            rate=rate,
            timeout=timeout,
            on_progress=lambda hop, n: bar.advance(tasks[hop], n),
        )
    if as_json:
        _print_json(result.as_json())
        return result
    table = Table(title=f"{count} orders, concurrency {concurrency}", title_justify="left")
    for column in ("hop", "count", "p50 ms", "p90 ms", "p99 ms"):
        table.add_column(column, justify="right")
    counts = {"accepted": result.accepted, "stored": result.stored, "notified": result.notified}
    for hop in HOPS:
        cells = [f"{v * 1000:.0f}" if v is not None else "-" for v in result.latencies[hop].values()]
        table.add_row(hop, str(counts[hop]), *cells)
    ui.console.print(table)
    ui.console.print(
        f"rejected: {dict(result.rejected) or 0}  duplicates: {result.duplicates}  "
        f"repeated notifications: {result.duplicate_notifications}  "
        f"missing: {result.missing}  throughput: {result.orders_per_second:.1f} orders/s"
    )
    return result
