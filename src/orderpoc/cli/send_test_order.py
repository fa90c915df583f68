"""`orderpoc send-test-order`: one order followed hop by hop, a set of invalid ones, or a load test."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import click

from orderpoc.cli.lazy import ui, ui_orders
from orderpoc.cli.options import FiniteFloat, common_options, write_text
from orderpoc.cli.output import emit
from orderpoc.errors import UserError
from orderpoc.settings import Settings


@click.command("send-test-order", short_help="Send an order and follow it through every hop.")
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
@click.option("--rate", type=FiniteFloat(min=0.1), help="Orders per second at most (load mode).")
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=FiniteFloat(min=1),
    help="Seconds to wait for every hop.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.html",
    help="Load mode: also write a self-contained HTML page charting the run (opens in any browser).",
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
    report_file: Path | None,
    as_json: bool,
) -> None:
    """Post an order through the API and follow it: accepted, stored, notified.

    Exits 0 only when every hop was seen within --timeout. With --count N it is a load test that
    fails if any order is lost or duplicated.
    """
    from orderpoc import exercise
    from orderpoc.trace import sample_order

    if report_file and (invalid or count == 1):
        raise UserError("--report charts a load run: use it with --count N (N > 1)")

    if invalid:
        checked = exercise.send_invalid(settings, timeout)
        body, ok = {"mode": "invalid", **checked.as_json()}, checked.ok
        draw = partial(ui_orders.print_invalid, checked.cases, checked.stored)
    elif count == 1:
        order = _read_order(order_file) if order_file else sample_order(customer, sku, quantity)
        trace = exercise.send_one(settings, order, timeout)
        body, ok = {"mode": "one", **trace.as_json()}, trace.ok
        draw = partial(ui_orders.print_trace, trace)
    else:
        with ui_orders.load_progress(count, enabled=not as_json) as advance:
            result = exercise.send_load(
                settings, count=count, concurrency=concurrency, rate=rate, timeout=timeout, on_progress=advance
            )
        body, ok = {"mode": "load", **result.as_json()}, result.ok
        draw = partial(ui_orders.print_load, result, count, concurrency)
        if report_file:
            from orderpoc import report

            run = {
                "stack": settings.stack,
                "target": settings.target,
                "region": settings.region,
                "count": count,
                "concurrency": concurrency,
                "rate": rate or "unlimited",
                "timeout": timeout,
            }
            write_text(report_file, report.render(result, run))
    if as_json:
        emit("send-test-order", body)
    else:
        draw()
        if report_file:
            ui.console.print(f"report: {report_file}", soft_wrap=True)
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
