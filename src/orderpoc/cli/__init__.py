"""The `orderpoc` command: a thin click layer that parses, calls orderpoc.app, renders with orderpoc.ui and ui_*.

Each command lives in a module of this package that imports only `orderpoc.cli.options` (and the
layers below); this module assembles them into one group and owns the exit-code contract:
0 ok, 1 the job failed (rerun converges), 2 the input is wrong (one line, no traceback), 3 `plan`
found changes pending, 130 Ctrl-C.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from orderpoc import __version__, interrupts
from orderpoc.cli import (
    diagram_command,
    init_command,
    list_command,
    local_commands,
    logs_command,
    outputs_command,
    plan_command,
    send_test_order,
    stack_commands,
    state_commands,
)
from orderpoc.cli.lazy import ui
from orderpoc.cli.options import add_verbose
from orderpoc.errors import EngineError, UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="orderpoc")
def cli() -> None:
    """Provision, inspect, exercise and tear down a serverless order pipeline.

    \b
    POST /order -> API Gateway -> Lambda intake -> SQS -> Lambda processor
                -> DynamoDB (Streams) -> Lambda notifier -> SNS

    Runs on an embedded local AWS by default (no account, no Docker); --target aws deploys the
    same resources to a real account.

    \b
    Try:  orderpoc plan; orderpoc up && orderpoc send-test-order && orderpoc status && orderpoc down
    """


for command in (
    stack_commands.up,
    plan_command.plan,
    stack_commands.down,
    stack_commands.status,
    send_test_order.send_test_order,
    local_commands.local,
    diagram_command.diagram,
    outputs_command.outputs,
    logs_command.logs,
    state_commands.state,
    list_command.list_stacks,
    init_command.init,
):
    cli.add_command(command)
add_verbose(cli)  # -v/--verbose on the group and on every command


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    prefix = getattr(category, "prefix", "warning: ")  # state_store.Notice and its kinds
    ui.err_console.print(f"{prefix}{message}", soft_wrap=True, markup=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line and exit 2; no traceback unless ORDERPOC_DEBUG=1."""
    debug = os.environ.get("ORDERPOC_DEBUG") == "1"
    warnings.showwarning = _show_warning  # e.g. a state dir tightened to 0700: one line, not a source excerpt
    # A polite kill is handled like Ctrl-C, so cleanups (send-test-order's probe queue) still run.
    interrupts.install()
    try:
        code = cli.main(args=argv, prog_name="orderpoc", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        ui.err_console.print("interrupted: rerun the same command to converge")
        code = 130
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        ui.err_console.print(f"error: {exc.format_message()}{hint}", soft_wrap=True)
        code = 2
    except UserError as exc:
        ui.err_console.print(f"error: {exc}", soft_wrap=True)
        code = 2
    except EngineError as exc:
        lost_race = next((e for e in exc.failures.values() if isinstance(e, UserError)), None)
        if lost_race is not None:  # e.g. the shared state changed under us: one line, nothing overwritten
            ui.err_console.print(f"error: {lost_race}", soft_wrap=True)
            code = 2
        else:
            for key, error in exc.failures.items():
                ui.err_console.print(f"error: {key}: {error}", soft_wrap=True)
            ui.err_console.print("Nothing is lost: rerun the same command to converge.")
            code = 1
    except Exception as exc:  # last resort: one line, traceback only on request
        if debug:
            raise
        ui.err_console.print(
            f"error: {type(exc).__name__}: {exc} (ORDERPOC_DEBUG=1 shows the traceback)", soft_wrap=True
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
