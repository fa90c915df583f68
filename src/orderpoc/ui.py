"""Rendering: live progress of engine events, tables for status, plain lines when not on a terminal.

Nothing here calls AWS; it only turns events and reports into text.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # only for types: importing the engine would pull in boto3 for `--help`
    from orderpoc.aws_calls import AwsCall
    from orderpoc.engine_types import Event, Plan, Report, Step
    from orderpoc.invalid_orders import Case
    from orderpoc.load import LoadResult
    from orderpoc.logs import LogLine
    from orderpoc.resources.base import Change
    from orderpoc.trace import Trace
    from orderpoc.watch import Redeploy

HOPS = ("accepted", "stored", "notified")  # as orderpoc.trace.HOPS, without importing boto3

# soft_wrap: a line longer than the width is left for the terminal to wrap, never cut mid-word by
# rich; tables and progress lay themselves out to the width instead.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

_DONE_STYLE = {
    "create": ("created", "green"),
    "update": ("updated", "yellow"),
    "replace": ("replaced", "magenta"),
    "unchanged": ("unchanged", "dim"),
    "delete": ("deleted", "green"),
    "forget": ("forgotten (was gone)", "dim"),
    "absent": ("already gone", "dim"),
}
_STATE_STYLE = {"ok": "green", "missing": "red", "drifted": "yellow", "unknown": "magenta"}


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


# -- changes and plans ---------------------------------------------------------------------------
UNKNOWN_TEXT = "(known after up)"  # as orderpoc.resources.base.Unknown.TEXT, without importing boto3


def value_text(value: Any, limit: int = 60) -> str:
    """A config value on one line: strings bare, the rest as compact JSON, long ones cut."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def change_text(change: Change) -> str:
    return f"{change.field}: {value_text(change.live)} -> {value_text(change.desired)}"


def done_detail(event: Event) -> str:
    """What an update changed, or what forced a replace, for the progress row."""
    text = "; ".join(change_text(c) for c in event.changes)
    if event.forced_by:
        text = f"forced by {', '.join(event.forced_by)}" + (f"; {text}" if text else "")
    return text


_PLAN_STYLE = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "replace": ("-/+", "magenta"),
    "delete": ("-", "red"),
    "forget": ("x", "dim"),
    "unchanged": ("", "dim"),
    "unknown": ("?", "bold red"),
}


def plan_summary(plan: Plan) -> str:
    counts = plan.counts
    text = ", ".join(f"{counts[a]} to {a}" for a in ("create", "update", "replace", "delete"))
    # a state entry whose resource is already gone: a change to the state only, named apart
    return text + (f", {counts['forget']} state entries to forget" if counts["forget"] else "")


def print_plan(plan: Plan, title: str, *, to_stderr: bool = False) -> None:
    """One line per resource with its action; below it every changed field, live -> desired."""
    out = err_console if to_stderr else console
    out.print(f"[bold]{title}[/]", soft_wrap=True)
    for step in plan.steps:
        out.print(_plan_line(step), soft_wrap=True)
        for line in _plan_details(step):
            out.print(Text(f"      {line}", style="dim"), soft_wrap=True)
    if plan.errors:
        out.print(f"[bold red]Could not plan {len(plan.errors)} resource(s).[/]")
    elif not plan.pending:
        out.print("[bold green]No changes.[/] The stack matches its declaration.")
    out.print(f"Plan: {plan_summary(plan)}.")


def _plan_line(step: Step) -> Text:
    mark, style = _PLAN_STYLE.get(step.action, ("", ""))
    text = Text(f"{mark:>3} ", style=style)
    text.append(f"{step.action:<9}", style=style)
    text.append(f" {step.kind:<21} {step.name}")
    if step.action == "replace":
        text.append(f"  (forced by {', '.join(step.forced_by)})", style="magenta")
    return text


def _plan_details(step: Step) -> list[str]:
    if step.error:
        return [f"error: {step.error}"]
    if step.action == "forget":
        return ["recorded in the state, already gone from AWS: only the state entry goes"]
    if step.action in {"update", "replace"}:
        return [change_text(change) for change in step.changes]
    if step.action == "create":
        return [", ".join(f"{k}={value_text(v)}" for k, v in sorted(step.outputs.items()))] if step.outputs else []
    return []


def short_id(outputs: dict[str, Any]) -> str:
    """The identifier an operator recognises: an id, or the resource part of an ARN."""
    for key in ("id", "uuid", "statement_id", "stage"):
        if outputs.get(key):
            return str(outputs[key])
    arn = str(outputs.get("arn") or "")
    return arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn


def _short_id(ident: str) -> str:
    return ident if len(ident) <= 10 else ident[:8] + "…"


def drift_text(drift: list[Any]) -> str:
    """Drift for people, whether the engine reports text or {field, live, desired} items."""
    parts = []
    for item in drift:
        if isinstance(item, str):
            parts.append(item)
            continue
        fields = item if isinstance(item, dict) else vars(item)
        parts.append(f"{fields.get('field')}: {fields.get('live')} -> {fields.get('desired')}")
    return "; ".join(parts)


def status_table(reports: list[Report]) -> Group:
    """One row per resource, names whole; the id is shortened, then dropped, then the figures, to
    fit the width. What drifted (or failed) is listed under the table, one resource a line."""
    columns = [
        Column("resource"),
        Column("name"),
        Column("state"),
        Column("id", drop=2, shorten=_short_id),
        Column("figures", drop=1),
    ]
    rows: list[list[str | Text]] = []
    details: list[Text] = []
    for report in reports:
        if detail := drift_text(report.drift) or report.error:
            details.append(Text.assemble((f"{report.key}: ", _STATE_STYLE.get(report.state, "")), detail))
        figures = "\n".join(f"{k}={v}" for k, v in report.figures.items())
        ident = short_id(report.outputs)
        # An ARN derived from the name says nothing new; full ARNs are in --json.
        state = Text(report.state, style=_STATE_STYLE.get(report.state, ""))
        rows.append([report.key, report.name, state, "" if report.name in ident else ident, figures])
    return Group(fitted_table("orderpoc status", columns, rows), *details)


def print_notices(notices: list[str]) -> None:
    for notice in notices:
        console.print(f"[yellow]note:[/] {notice}")


# -- send-test-order ----------------------------------------------------------------------------
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


# -- orderpoc local -----------------------------------------------------------------------------
def print_local_status(data: dict[str, Any]) -> None:
    if data.get("running"):
        console.print(
            f"[green]running[/] at {data['endpoint']} (pid {data['pid']}, since {data['started_at']}); "
            f"log: {data['log_file']}"
        )
    else:
        console.print(f"not running (port {data['port']})")


def print_outbox(mails: list[dict[str, Any]]) -> None:
    if not mails:
        console.print("no email notifications yet (subscribe one with `orderpoc up --notify-email ADDRESS`)")
    for mail in mails:
        console.print(f"[bold]{mail.get('timestamp', '')}[/] to {mail.get('endpoint', '')}: {mail.get('subject', '')}")
        console.print(f"  {mail.get('message', '')}")


def print_up_closing(invoke_url: str | None, flags: str) -> None:
    """up's last lines: where the API is, and the two commands to reach for next."""
    if invoke_url:
        console.print(
            f"Invoke URL: [bold]{invoke_url}[/]  (POST /order, GET /order/{{orderId}}; API key: x-api-key)",
            soft_wrap=True,
        )
    console.print(f"Next: [bold]orderpoc send-test-order{flags}[/]", soft_wrap=True)
    console.print(f"      [bold]orderpoc outputs --show-key{flags}[/]  (the URLs, the key and a curl)", soft_wrap=True)


# -- orderpoc logs ------------------------------------------------------------------------------
_FUNCTION_STYLE = {"intake": "cyan", "processor": "magenta", "notifier": "green"}


def print_log_line(line: LogLine) -> None:
    """`HH:MM:SS.mmm function  message`; a multi-line message (a traceback) indented under it.
    Never wrapped by rich: a long line stays one line for grep and the terminal wraps it."""
    stamp = line.time.strftime("%H:%M:%S.%f")[:-3]
    head = Text(f"{stamp} ", style="dim")
    head.append(f"{line.function:<9}", style=_FUNCTION_STYLE.get(line.function, ""))
    first, *rest = line.message.rstrip("\n").split("\n")
    head.append(f" {first}")
    console.print(head, soft_wrap=True)
    for more in rest:
        console.print(Text(f"{'':23}{more}"), soft_wrap=True)


# -- orderpoc outputs ---------------------------------------------------------------------------
def print_outputs(data: dict[str, Any], key_hint: str) -> None:
    """Label and value per line, never wrapped: URLs, ARNs and the curl must stay copyable."""
    api_key = data["api_key"]
    rows = [
        ("POST", data["urls"]["post_order"]),
        ("GET", data["urls"]["get_order"]),
        ("API key id", api_key["id"]),
        ("API key", api_key["value"] or f"(hidden: {key_hint})"),
    ]
    for label in ("table", "queue", "dlq", "failures_queue", "topic"):
        item = data[label]
        rows.append((label.replace("_", " "), f"{item['name']}  {item.get('arn') or '(missing)'}"))
    rows += [("account", data["account"]), ("region", data["region"])]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        console.print(f"[bold]{label:<{width}}[/]  {value}", soft_wrap=True, markup=True)
    console.print("\nCall the API yourself:", soft_wrap=True)
    if not api_key["value"]:
        console.print(f"  export ORDERPOC_API_KEY=...   # {key_hint}", soft_wrap=True, markup=False)
    console.print(f"  {data['curl']}", soft_wrap=True, markup=False, highlight=False)


# -- --verbose ----------------------------------------------------------------------------------
def print_aws_call(call: AwsCall) -> None:
    """One line per AWS call on stderr: service, operation, milliseconds, outcome."""
    retries = f" after {call.retries} retries" if call.retries else ""
    status = f" HTTP {call.status}" if call.status and call.outcome != "ok" else ""
    err_console.print(
        f"aws {call.service} {call.operation} {call.milliseconds:.0f} ms {call.outcome}{status}{retries}",
        soft_wrap=True,
        markup=False,
        style="dim" if call.outcome == "ok" else "yellow",
    )


# -- orderpoc list ------------------------------------------------------------------------------
def _minute(stamp: str) -> str:
    """2026-12-02T07:29:48Z -> 12-02 07:29 (shortened column)."""
    return stamp[5:16].replace("T", " ") if len(stamp) >= 16 else stamp


def print_stack_list(data: dict[str, Any]) -> None:
    columns = [
        Column("stack"),
        Column("target"),
        Column("region", drop=2),
        Column("account", drop=3),
        Column("last applied", shorten=_minute, drop=4),
        Column("tagged", justify="right", drop=1),
        Column("note", flexible=True, shorten=lambda note: note.split(":")[0]),
    ]
    rows: list[list[str | Text]] = []
    for entry in data["stacks"]:
        tagged = entry["tagged_resources"]
        note = entry["note"] or ("not in this state dir" if entry["source"] == "tag" else "")
        rows.append(
            [
                Text(entry["stack"], style="bold"),
                entry["target"],
                entry["region"] or "-",
                entry["account"] or "-",
                entry["last_applied"] or "-",
                "-" if tagged is None else str(tagged),
                Text(note, style="yellow" if entry["source"] == "tag" else "dim"),
            ]
        )
    where = f"{data['target']}, {data['region']}"
    if not rows:
        console.print(f"no stacks: none in this state dir and none tagged {where}", soft_wrap=True)
    else:
        console.print(fitted_table(f"stacks (tag search: {where})", columns, rows))
    print_notices(data["notices"])


# -- up --watch -------------------------------------------------------------------------------
def print_redeploy(redeploy: Redeploy) -> None:
    stamp = time.strftime("%H:%M:%S")
    if not redeploy.changes:
        console.print(f"{stamp} saved, nothing to deploy ({redeploy.seconds:.1f}s)")
        return
    for key, change in redeploy.changes.items():
        console.print(f"{stamp} {key}: {change}", soft_wrap=True)
    console.print(f"{stamp} [green]redeployed[/] in {redeploy.seconds:.1f}s")


def print_watch_error(exc: Exception) -> None:
    err_console.print(
        f"{time.strftime('%H:%M:%S')} [red]not deployed:[/] {exc} (fix it and save again)", soft_wrap=True
    )
