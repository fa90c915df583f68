"""The smaller commands' output, printed as plain lines: `local`, `logs`, `outputs`, `up`'s
closing lines and `--watch`, `--verbose`'s AWS calls.

Lines that are never wrapped by rich: URLs, ARNs, log lines and the curl stay whole, to copy or grep.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text

from orderpoc.ui import console, err_console

if TYPE_CHECKING:  # only for types: importing them would pull in boto3 for `--help`
    from orderpoc.aws_calls import AwsCall
    from orderpoc.logs import LogLine
    from orderpoc.watch import Redeploy


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
