"""`orderpoc local ...`: start, stop and inspect the embedded local AWS."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orderpoc import interrupts
from orderpoc.cli.lazy import ui, ui_lines
from orderpoc.cli.options import json_option, local_port, state_dir_option
from orderpoc.cli.output import emit

if TYPE_CHECKING:
    from orderpoc.local.lifecycle import LocalStatus


@click.group(short_help="Start, stop and inspect the embedded local AWS.")
def local() -> None:
    """The embedded local AWS on 127.0.0.1 (port: ORDERPOC_LOCAL_PORT, default 4780).

    Any command with the local target starts it when it is not running. It keeps everything in
    memory: stopping it deletes every resource deployed to it.
    """


@local.command()
@state_dir_option
@json_option
def start(state_dir: Path, as_json: bool) -> None:
    """Start the embedded AWS in the background (idempotent)."""
    from orderpoc.local import lifecycle

    _show("local-start", lifecycle.start(state_dir, local_port()), as_json)


@local.command()
@state_dir_option
@json_option
def stop(state_dir: Path, as_json: bool) -> None:
    """Stop it and every function worker; its resources are lost."""
    from orderpoc.local import lifecycle

    port = local_port()
    stopped = lifecycle.stop(state_dir, port)
    if as_json:
        emit("local-stop", {"stopped": stopped, "port": port})
    else:
        ui.console.print("stopped" if stopped else "was not running")


@local.command("status")
@state_dir_option
@json_option
def local_status(state_dir: Path, as_json: bool) -> None:
    """Is it running, where, since when."""
    from orderpoc.local import lifecycle

    status = lifecycle.status(state_dir, local_port())
    _show("local-status", status, as_json)
    if not status.running:
        raise SystemExit(1)


@local.command()
@state_dir_option
@click.option("--limit", default=10, show_default=True, help="How many of the latest emails.")
@json_option
def outbox(state_dir: Path, limit: int, as_json: bool) -> None:
    """The latest email notifications the local SNS delivered (email subscriptions)."""
    from orderpoc.local import notifications

    mails = notifications.read_outbox(state_dir, limit=limit)
    if as_json:
        emit("local-outbox", {"emails": mails})
    else:
        ui_lines.print_outbox(mails)


@local.command("logs")
@state_dir_option
@click.option(
    "--lines", "-n", default=50, show_default=True, type=click.IntRange(0), help="How many of the last lines."
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
def local_logs(state_dir: Path, lines: int, follow: bool) -> None:
    """The embedded AWS's own log: server, event source pollers, stray worker output.

    The functions' own output is in CloudWatch Logs: see `orderpoc logs`.
    """
    from orderpoc.local import lifecycle, server_log

    path = lifecycle.log_file(state_dir, local_port())
    last, offset = server_log.tail(path, lines)
    if not path.exists():
        ui.err_console.print(f"no log yet: {path} does not exist (the local AWS never started here)", soft_wrap=True)
    for line in last:
        click.echo(line)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how following ends: a clean exit
            server_log.follow(path, offset, click.echo, sleep=interrupts.sleep)  # see interrupts.py


def _show(schema: str, status: LocalStatus, as_json: bool) -> None:
    data = dataclasses.asdict(status)
    if as_json:
        emit(schema, data)
    else:
        ui_lines.print_local_status(data)
