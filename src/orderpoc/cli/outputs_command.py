"""`orderpoc outputs`: the URLs, API key, names and ARNs to call the deployed stack yourself."""

from __future__ import annotations

import click

from orderpoc.cli.lazy import ui_lines
from orderpoc.cli.options import common_options, json_option, next_flags
from orderpoc.cli.output import emit
from orderpoc.settings import Settings


@click.command(short_help="Invoke URLs, API key, names and ARNs, and a curl that posts an order.")
@common_options
@click.option("--show-key", is_flag=True, help="Also print the API key's value (in the curl too).")
@json_option
def outputs(settings: Settings, show_key: bool, as_json: bool) -> None:
    """What you need to call the deployed API yourself: read-only, no state file needed.

    The API key's value is shown only with --show-key; without it the curl reads it from
    $ORDERPOC_API_KEY.
    """
    from orderpoc import app

    result = app.read_outputs(settings, show_key=show_key)
    if as_json:
        emit("outputs", result.as_json())
    else:
        ui_lines.print_outputs(result.as_json(), key_hint=f"orderpoc outputs --show-key{next_flags()}")
