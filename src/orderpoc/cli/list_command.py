"""`orderpoc list`: the stacks this state dir knows, and those found by their tag that it does not."""

from __future__ import annotations

import click

from orderpoc.cli.lazy import ui_stacks
from orderpoc.cli.options import common_options, json_option
from orderpoc.cli.output import emit
from orderpoc.settings import Settings


@click.command("list", short_help="The stacks the state dir knows, and others found by their tag.")
@common_options
@json_option
def list_stacks(settings: Settings, as_json: bool) -> None:
    """Every stack of the state dir, or of the --state-url prefix (target, region, account, when up
    last changed it), and the stacks tagged orderpoc:stack on the chosen --target and --region that
    it does not know. Read-only; --stack is not used. It does not start the local AWS.
    """
    from orderpoc import app

    result = app.list_stacks(settings)
    if as_json:
        emit("list", result.as_json())
    else:
        ui_stacks.print_stack_list(result.as_json())
