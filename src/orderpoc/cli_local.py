"""`orderpoc local ...`: start, stop and inspect the embedded local AWS."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from orderpoc import ui
from orderpoc.cli import _local_port, cli

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".orderpoc"),
    envvar="ORDERPOC_STATE_DIR",
    show_default=True,
    help="Where the pid, log and outbox files live.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@cli.group(short_help="Start, stop and inspect the embedded local AWS.")
def local() -> None:
    """The embedded local AWS on 127.0.0.1 (port: ORDERPOC_LOCAL_PORT, default 4566).

    Any command with the local target starts it when it is not running. It keeps everything in
    memory: stopping it deletes every resource deployed to it.
    """


def _show(status: object, as_json: bool) -> None:
    data = dataclasses.asdict(status)  # type: ignore[call-overload]
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif data.get("running"):
        ui.console.print(
            f"[green]running[/] at {data['endpoint']} (pid {data['pid']}, since {data['started_at']}); "
            f"log: {data['log_file']}"
        )
    else:
        ui.console.print(f"not running (port {data['port']})")


@local.command()
@state_dir_option
@json_option
def start(state_dir: Path, as_json: bool) -> None:
    """Start the embedded AWS in the background (idempotent)."""
    from orderpoc.local import lifecycle

    _show(lifecycle.start(state_dir, _local_port()), as_json)


@local.command()
@state_dir_option
def stop(state_dir: Path) -> None:
    """Stop it and every function worker; its resources are lost."""
    from orderpoc.local import lifecycle

    stopped = lifecycle.stop(state_dir, _local_port())
    ui.console.print("stopped" if stopped else "was not running")


@local.command("status")
@state_dir_option
@json_option
def local_status(state_dir: Path, as_json: bool) -> None:
    """Is it running, where, since when."""
    from orderpoc.local import lifecycle

    status = lifecycle.status(state_dir, _local_port())
    _show(status, as_json)
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
        click.echo(json.dumps(mails, indent=2, default=str))
        return
    if not mails:
        ui.console.print("no email notifications yet (subscribe one with `orderpoc up --notify-email ADDRESS`)")
    for mail in mails:
        ui.console.print(
            f"[bold]{mail.get('timestamp', '')}[/] to {mail.get('endpoint', '')}: {mail.get('subject', '')}"
        )
        ui.console.print(f"  {mail.get('message', '')}")
