"""`orderpoc local ...`: start, stop and inspect the embedded local AWS."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orderpoc import ui
from orderpoc.cli.options import json_option, local_port, state_dir_option
from orderpoc.cli.output import emit

if TYPE_CHECKING:
    from orderpoc.local.lifecycle import LocalStatus


@click.group(short_help="Start, stop and inspect the embedded local AWS.")
def local() -> None:
    """The embedded local AWS on 127.0.0.1 (port: ORDERPOC_LOCAL_PORT, default 4566).

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
        ui.print_outbox(mails)


def _show(schema: str, status: LocalStatus, as_json: bool) -> None:
    data = dataclasses.asdict(status)
    if as_json:
        emit(schema, data)
    else:
        ui.print_local_status(data)
