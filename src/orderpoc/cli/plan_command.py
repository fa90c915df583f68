"""`orderpoc plan`: what `up` (or `down`) would do, resource by resource, changing nothing."""

from __future__ import annotations

import click

from orderpoc.cli.lazy import ui, ui_plan
from orderpoc.cli.options import common_options, json_option, notify_email_options, where
from orderpoc.cli.output import emit
from orderpoc.settings import Settings

EXIT_PENDING = 3  # changes pending; 0 no changes, 1 error, 2 bad input


@click.command(short_help="Show what up would change (read-only); exit 3 when anything would.")
@common_options
@notify_email_options
@click.option("--destroy", is_flag=True, help="Show what `down` would delete instead.")
@json_option
def plan(settings: Settings, notify_emails: list[str] | None, destroy: bool, as_json: bool) -> None:
    """Show, per resource, what `up` would do: create, update (each field: live -> desired),
    replace (and the field that forces it), delete (recorded in the state or tagged with the
    stack, but no longer declared), forget (recorded, no longer declared and already gone: only
    its state entry goes) or nothing. Read-only:
    makes no change in AWS and does not write the state file.

    \b
    Exit codes, for scripts:
      0  no changes
      3  changes pending
      1  error (a resource could not be planned)
      2  the input is wrong
    """
    from orderpoc import app

    result = app.plan(settings, notify_emails=notify_emails, destroy=destroy)
    steps = result.plan.steps
    if as_json:
        emit(
            "plan",
            {
                **where(settings),
                "account": result.account,
                "destroy": destroy,
                "pending": result.plan.pending,
                "resources": [step.as_json() for step in steps],
                "summary": {action: n for action, n in result.plan.counts.items() if action != "unchanged"},
                "notices": result.notices,
            },
        )
    else:
        ui.print_notices(result.notices)
        verb = "down" if destroy else "up"
        ui_plan.print_plan(
            result.plan,
            f"orderpoc plan{' --destroy' if destroy else ''}: what `{verb}` would do to "
            f"{settings.stack} ({settings.target}, {settings.region}, account {result.account})",
        )
    if result.plan.errors:
        raise SystemExit(1)
    if result.plan.pending:
        raise SystemExit(EXIT_PENDING)
