"""`orderpoc logs`: the functions' log lines merged in time order, on either target."""

from __future__ import annotations

import contextlib

import click

from orderpoc.cli.lazy import ui, ui_lines
from orderpoc.cli.options import common_options
from orderpoc.cli.output import emit_line
from orderpoc.settings import Settings

FUNCTIONS = ("intake", "processor", "notifier")  # as orderpoc.logs.FUNCTIONS, checked by a test


@click.command(short_help="The functions' log lines in time order; --follow, --order ID, --filter.")
@common_options
@click.argument("functions", nargs=-1, type=click.Choice(FUNCTIONS))
@click.option(
    "--since",
    metavar="WHEN",
    help="From when: 30s, 10m, 2h, 1d, or an ISO-8601 time (UTC unless it has an offset). "
    "[default: 10m; 1d with --order]",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--filter", "text", metavar="TEXT", help="Only lines containing TEXT (case-sensitive).")
@click.option("--order", "order_id", metavar="ORDER_ID", help="Every line that mentions this order, all functions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines (one document per log line) instead of text.")
def logs(
    settings: Settings,
    functions: tuple[str, ...],
    since: str | None,
    follow: bool,
    text: str | None,
    order_id: str | None,
    as_json: bool,
) -> None:
    """Print the log lines of FUNCTIONS (default: all three), oldest first, each with its time
    (UTC) and function. --json prints JSON Lines, one line per log line.

    \b
    orderpoc logs --since 1h                 # everything of the last hour
    orderpoc logs processor --follow         # watch the processor
    orderpoc logs --order 6f1c...            # one order's story across the pipeline
    """
    from orderpoc import app
    from orderpoc import logs as stack_logs

    start_ms = stack_logs.parse_since(since or ("1d" if order_id else stack_logs.DEFAULT_SINCE))
    query = stack_logs.Query(stack_logs.functions_or_all(functions), tuple(t for t in (order_id, text) if t))

    def show(lines: list[stack_logs.LogLine]) -> None:
        for line in lines:
            if as_json:
                emit_line("logs", line.as_json())
            else:
                ui_lines.print_log_line(line)

    if follow:
        if ui.err_console.is_terminal:
            ui.err_console.print(f"following {', '.join(query.functions)} (Ctrl-C to stop)", style="dim")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how following ends: a clean exit
            app.follow_logs(settings, query, start_ms, show)
        return
    fetched, empty = app.read_logs(settings, query, start_ms)
    show(fetched.lines)
    for fn in fetched.truncated:
        ui.err_console.print(f"note: {fn} has more lines than shown; narrow --since or --filter", soft_wrap=True)
    if empty:
        ui.err_console.print(f"no log lines: {empty.reason}", soft_wrap=True)
        if empty.stack_missing:
            raise SystemExit(1)
