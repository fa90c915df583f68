"""`orderpoc up`, `down` and `status`: parse, call orderpoc.app, render with orderpoc.ui and ui_*."""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from typing import TYPE_CHECKING

import click

from orderpoc import interrupts
from orderpoc.cli.lazy import ui, ui_lines, ui_plan, ui_progress, ui_stacks
from orderpoc.cli.options import common_options, confirmed, json_option, next_flags, notify_email_options, where
from orderpoc.cli.output import drift_items, emit
from orderpoc.errors import UserError
from orderpoc.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from orderpoc.engine_types import Event
    from orderpoc.watch import Fingerprint


def _progress(title: str, as_json: bool) -> contextlib.AbstractContextManager[Callable[[Event], None]]:
    """The live progress, or (with --json, which prints none) an event sink that needs no rich:
    importing it was ~25 ms of a no-op `up --json`."""
    return contextlib.nullcontext(_ignore) if as_json else ui_progress.progress(title)


def _ignore(event: Event) -> None:
    pass


@click.command(short_help="Create or update the stack; no-op when nothing changed.")
@common_options
@notify_email_options
@click.option("--yes", "-y", is_flag=True, help="Target aws: apply a plan that deletes or replaces without asking.")
@click.option("--watch", is_flag=True, help="Then redeploy what changes in the project as you save (Ctrl-C stops).")
@json_option
def up(settings: Settings, notify_emails: list[str] | None, yes: bool, watch: bool, as_json: bool) -> None:
    """Plan, then apply: create what is missing, update what drifted, replace what cannot change
    in place, then delete what the state records or the stack tag finds but the stack no longer
    declares (forget the state entries of what is already gone). A rerun with nothing changed
    changes nothing.

    On --target aws a plan that deletes or replaces anything is shown and confirmed first (--yes
    skips the question; off a terminal it is refused without --yes, exit 2). See `orderpoc plan`.

    With --watch, stay and redeploy the project's functions and settings whenever a saved change to
    lambda_src/ or orderpoc.toml settles: only what changed is updated.
    """
    from orderpoc import app

    if watch and (as_json or settings.source is None):
        raise UserError("--watch needs a project (`orderpoc init`) and prints progress lines, not --json")
    baseline = _snapshot(settings) if watch else None  # before up reads the files: no edit slips by
    title = f"orderpoc up: {settings.stack} ({settings.target}, {settings.region})"
    with app.prepare_up(settings, notify_emails=notify_emails) as prepared:
        if prepared.needs_confirmation and not yes:
            ui_plan.print_plan(prepared.plan, f"{title}, account {prepared.session.ctx.account}", to_stderr=as_json)
            if not confirmed(
                "Apply this plan (it deletes or replaces resources)?",
                yes=yes,
                refusal="refusing to delete or replace AWS resources without confirmation: rerun with --yes",
            ):
                ui.err_console.print("nothing changed")
                raise SystemExit(1)
        with _progress(title, as_json) as tracker:
            result = prepared.apply(tracker)
        notices = prepared.session.notices + prepared.plan.notices  # e.g. tagged shapes not deleted
    counts = dict(Counter(result.actions.values()))
    if as_json:
        emit(
            "up",
            {
                **where(settings),
                "invoke_url": result.invoke_url,
                "seconds": round(result.seconds, 2),
                "actions": result.actions,
                "counts": counts,
                "notices": notices,
            },
        )
        return
    ui.print_notices(notices)
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    ui.console.print(f"[bold green]Stack {settings.stack} is up[/] in {result.seconds:.1f}s ({summary}).")
    ui_lines.print_up_closing(result.invoke_url, next_flags())
    if watch:
        _watch(settings, baseline)


def _snapshot(settings: Settings) -> Fingerprint:
    from orderpoc import watch

    return watch.fingerprint(watch.project_files(settings))


def _watch(settings: Settings, baseline: Fingerprint | None) -> None:
    from orderpoc.watch import project_root, watch_project

    ui.console.print(f"Watching {project_root(settings)} for changes (Ctrl-C stops) ...")
    # Ctrl-C raises KeyboardInterrupt, and sets the flag the watch loop waits on, should the
    # exception be lost (interrupts.py)
    with contextlib.suppress(KeyboardInterrupt):
        # each redeploy keeps the email list this up recorded
        watch_project(
            settings,
            ui_lines.print_redeploy,
            ui_lines.print_watch_error,
            baseline=baseline,
            stop=interrupts.interrupted,
        )
    ui.console.print("Stopped watching; the stack stays up.")


@click.command(short_help="Delete every resource of the stack.")
@common_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed off a terminal, target aws).")
@json_option
def down(settings: Settings, yes: bool, as_json: bool) -> None:
    """Delete every resource of the stack, in reverse order; works without the state file. Then
    what the state records beyond the stack, and what is tagged with the stack and nothing else
    knows (leftovers of an older version, of a lost state); anything tagged that remains is
    reported (exit 1).

    On --target aws it lists what it will delete and the account, and asks first (--yes skips).
    """
    from orderpoc import app

    refusal = "refusing to delete AWS resources without confirmation: rerun with --yes"
    if settings.target == "aws" and not yes and not sys.stdin.isatty():
        raise UserError(refusal)  # before any AWS call
    with app.prepare_down(settings) as prepared:
        if settings.target == "aws" and not yes:
            account = prepared.session.ctx.account
            title = f"orderpoc down: {settings.stack} (aws, {settings.region}), account {account}"
            ui_plan.print_plan(prepared.plan(), title, to_stderr=as_json)
            question = f"Delete these resources of stack {settings.stack!r} in account {account}, {settings.region}?"
            if not confirmed(question, yes=yes, refusal=refusal):
                ui.err_console.print("nothing deleted")
                raise SystemExit(1)
        with _progress(f"orderpoc down: {settings.stack} ({settings.target})", as_json) as tracker:
            result = prepared.apply(tracker)
    if as_json:
        emit(
            "down",
            {
                **where(settings),
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
        emit("status", {**where(settings), **body})
    else:
        ui.print_notices(result.notices)
        ui.console.print(ui_stacks.status_table(result.reports))
        for key, value in result.extras.items():
            if value:
                ui.console.print(f"{key}: {value}", soft_wrap=True)
    if not result.healthy:
        raise SystemExit(1)
