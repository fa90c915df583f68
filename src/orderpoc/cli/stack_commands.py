"""`orderpoc up`, `down` and `status`: parse, call orderpoc.app, render with orderpoc.ui."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING

import click

from orderpoc import ui
from orderpoc.cli.options import common_options, json_option, next_flags
from orderpoc.cli.output import drift_items, emit
from orderpoc.errors import UserError
from orderpoc.settings import Settings, validate_email

if TYPE_CHECKING:
    from orderpoc.watch import Fingerprint


@click.command(short_help="Create or update the stack; no-op when nothing changed.")
@common_options
@click.option("--notify-email", metavar="ADDRESS", help="Also subscribe this email address to the topic.")
@click.option("--watch", is_flag=True, help="Then redeploy what changes in the project as you save (Ctrl-C stops).")
@json_option
def up(settings: Settings, notify_email: str | None, watch: bool, as_json: bool) -> None:
    """Create or update every resource; a rerun with nothing changed changes nothing.

    With --watch, stay and redeploy the project's functions and settings whenever a saved change to
    lambda_src/ or orderpoc.toml settles: only what changed is updated.
    """
    from orderpoc import app

    if watch and (as_json or settings.source is None):
        raise UserError("--watch needs a project (`orderpoc init`) and prints progress lines, not --json")
    baseline = _snapshot(settings) if watch else None  # before up reads the files: no edit slips by
    if notify_email is not None:
        validate_email(notify_email)
    title = f"orderpoc up: {settings.stack} ({settings.target}, {settings.region})"
    with ui.progress(title, enabled=not as_json) as tracker:
        session, result = app.up(settings, tracker, notify_email=notify_email)
    counts = dict(Counter(result.actions.values()))
    if as_json:
        emit(
            "up",
            {
                **_where(settings),
                "invoke_url": result.invoke_url,
                "seconds": round(result.seconds, 2),
                "actions": result.actions,
                "counts": counts,
                "notices": session.notices,
            },
        )
        return
    ui.print_notices(session.notices)
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    ui.console.print(f"[bold green]Stack {settings.stack} is up[/] in {result.seconds:.1f}s ({summary}).")
    ui.print_up_closing(result.invoke_url, next_flags())
    if watch:
        _watch(settings, notify_email, baseline)


def _snapshot(settings: Settings) -> Fingerprint:
    from orderpoc import watch

    return watch.fingerprint(watch.project_files(settings))


def _watch(settings: Settings, notify_email: str | None, baseline: Fingerprint | None) -> None:
    from orderpoc.watch import project_root, watch_project

    ui.console.print(f"Watching {project_root(settings)} for changes (Ctrl-C stops) ...")
    try:
        watch_project(settings, ui.print_redeploy, ui.print_watch_error, notify_email=notify_email, baseline=baseline)
    except KeyboardInterrupt:
        ui.console.print("Stopped watching; the stack stays up.")


@click.command(short_help="Delete every resource of the stack.")
@common_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed off a terminal, target aws).")
@json_option
def down(settings: Settings, yes: bool, as_json: bool) -> None:
    """Delete every resource of the stack, in reverse order; works without the state file."""
    from orderpoc import app

    if settings.target == "aws" and not yes:
        if not sys.stdin.isatty():
            raise UserError("refusing to delete AWS resources without confirmation: rerun with --yes")
        if not click.confirm(f"Delete every resource of stack {settings.stack!r} in {settings.region}?"):
            ui.console.print("nothing deleted")
            raise SystemExit(1)
    with ui.progress(f"orderpoc down: {settings.stack} ({settings.target})", enabled=not as_json) as tracker:
        result = app.down(settings, tracker)
    if as_json:
        emit(
            "down",
            {
                **_where(settings),
                "seconds": round(result.seconds, 2),
                "actions": result.actions,
                "counts": dict(Counter(result.actions.values())),
                "leftovers": result.leftovers,
            },
        )
    elif result.leftovers:
        ui.console.print(f"[yellow]Still tagged with the stack:[/] {', '.join(result.leftovers)}")
    else:
        ui.console.print(
            f"[bold green]Stack {settings.stack} is gone[/] in {result.seconds:.1f}s; nothing tagged with it remains."
        )
    if result.leftovers:
        raise SystemExit(1)


@click.command(short_help="Each resource: ok / missing / drifted, with figures.")
@common_options
@json_option
def status(settings: Settings, as_json: bool) -> None:
    """One row per resource: live state (ok / missing / drifted) and operator figures."""
    from orderpoc import app

    result = app.status(settings)
    if as_json:
        body = result.as_json()
        for resource in body["resources"]:
            resource["drift"] = drift_items(resource["drift"])
        emit("status", {**_where(settings), **body})
    else:
        ui.print_notices(result.notices)
        ui.console.print(ui.status_table(result.reports))
        for key, value in result.extras.items():
            if value:
                ui.console.print(f"{key}: {value}", soft_wrap=True)
    if not result.healthy:
        raise SystemExit(1)


def _where(settings: Settings) -> dict[str, str]:
    """Which stack a document is about: the first keys of up's, down's and status's JSON."""
    return {"stack": settings.stack, "target": settings.target, "region": settings.region}
