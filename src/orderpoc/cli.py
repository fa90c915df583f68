"""Thin click layer: parse options, build Settings, call app/trace, render with ui."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orderpoc import __version__, app, ui
from orderpoc.engine import EngineError
from orderpoc.errors import UserError
from orderpoc.settings import DEFAULT_LOCAL_PORT, DEFAULT_REGION, DEFAULT_STACK, TARGETS, Settings, validate_region


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command takes; each also reads an ORDERPOC_* environment variable."""
    options = [
        click.option(
            "--stack",
            default=DEFAULT_STACK,
            envvar="ORDERPOC_STACK",
            show_default=True,
            help="Stack name: every resource name derives from it.",
        ),
        click.option(
            "--target",
            type=click.Choice(TARGETS),
            default="local",
            envvar="ORDERPOC_TARGET",
            show_default=True,
            help="local: the embedded AWS on 127.0.0.1; aws: a real account.",
        ),
        click.option(
            "--region",
            default=None,
            envvar=["ORDERPOC_REGION"],
            help=f"AWS region [default: AWS_REGION, else {DEFAULT_REGION}]",
        ),
        click.option("--profile", default=None, envvar="ORDERPOC_PROFILE", help="AWS profile (target aws)."),
        click.option(
            "--endpoint-url",
            default=None,
            envvar="ORDERPOC_ENDPOINT_URL",
            help="AWS-compatible endpoint for --target aws (e.g. LocalStack).",
        ),
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path(".orderpoc"),
            envvar="ORDERPOC_STATE_DIR",
            show_default=True,
            help="Where state files live.",
        ),
    ]

    @functools.wraps(command)
    def wrapper(
        stack: str,
        target: str,
        region: str | None,
        profile: str | None,
        endpoint_url: str | None,
        state_dir: Path,
        **kwargs: Any,
    ) -> Any:
        if target == "local" and endpoint_url:
            raise UserError("--endpoint-url goes with --target aws; the local target runs its own endpoint")
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        validate_region(region)
        settings = Settings(
            stack=stack,
            target=target,
            region=region,
            profile=profile,
            endpoint_url=endpoint_url,
            state_dir=state_dir,
            local_port=_local_port(),
        )
        return command(settings, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _local_port() -> int:
    raw = os.environ.get("ORDERPOC_LOCAL_PORT", str(DEFAULT_LOCAL_PORT))
    if not raw.isdigit():
        raise UserError(f"ORDERPOC_LOCAL_PORT must be a port number, got {raw!r}")
    return int(raw)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")


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
    Try:  orderpoc up && orderpoc send-test-order && orderpoc status && orderpoc down
    """


@cli.command(short_help="Create or update the stack; no-op when nothing changed.")
@common_options
@click.option("--notify-email", metavar="ADDRESS", help="Also subscribe this email address to the topic.")
@json_option
def up(settings: Settings, notify_email: str | None, as_json: bool) -> None:
    """Create or update every resource; a rerun with nothing changed changes nothing."""
    with ui.progress(
        f"orderpoc up: {settings.stack} ({settings.target}, {settings.region})", enabled=not as_json
    ) as tracker:
        session, result = app.up(settings, tracker, notify_email=notify_email)
    counts = _count(result.actions.values())
    if as_json:
        _print_json(
            {
                "stack": settings.stack,
                "target": settings.target,
                "invoke_url": result.invoke_url,
                "seconds": round(result.seconds, 2),
                "actions": result.actions,
                "counts": counts,
                "notices": session.notices,
            }
        )
        return
    for notice in session.notices:
        ui.console.print(f"[yellow]note:[/] {notice}")
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    ui.console.print(f"[bold green]Stack {settings.stack} is up[/] in {result.seconds:.1f}s ({summary}).")
    ui.console.print(f"Invoke URL: [bold]{result.invoke_url}/order[/]  (API key required: x-api-key)", soft_wrap=True)
    ui.console.print(f"Next: [bold]orderpoc send-test-order{_flags(settings)}[/]")


@cli.command(short_help="Delete every resource of the stack.")
@common_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed off a terminal, target aws).")
@json_option
def down(settings: Settings, yes: bool, as_json: bool) -> None:
    """Delete every resource of the stack, in reverse order; works without the state file."""
    if settings.target == "aws" and not yes:
        if not sys.stdin.isatty():
            raise UserError("refusing to delete AWS resources without confirmation: rerun with --yes")
        if not click.confirm(f"Delete every resource of stack {settings.stack!r} in {settings.region}?"):
            ui.console.print("nothing deleted")
            raise SystemExit(1)
    with ui.progress(f"orderpoc down: {settings.stack} ({settings.target})", enabled=not as_json) as tracker:
        result = app.down(settings, tracker)
    if as_json:
        _print_json({"stack": settings.stack, "seconds": round(result.seconds, 2), "leftovers": result.leftovers})
    elif result.leftovers:
        ui.console.print(f"[yellow]Still tagged with the stack:[/] {', '.join(result.leftovers)}")
    else:
        ui.console.print(
            f"[bold green]Stack {settings.stack} is gone[/] in {result.seconds:.1f}s; nothing tagged with it remains."
        )
    if result.leftovers:
        raise SystemExit(1)


@cli.command(short_help="Each resource: ok / missing / drifted, with figures.")
@common_options
@json_option
def status(settings: Settings, as_json: bool) -> None:
    """One row per resource: live state (ok / missing / drifted) and operator figures."""
    result = app.status(settings)
    if as_json:
        _print_json(result.as_json())
    else:
        for notice in result.notices:
            ui.console.print(f"[yellow]note:[/] {notice}")
        ui.console.print(ui.status_table(result.reports))
        for key, value in result.extras.items():
            if value:
                ui.console.print(f"{key}: {value}", soft_wrap=True)
    if not result.healthy:
        raise SystemExit(1)


def _count(actions: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for action in actions:
        counts[action] = counts.get(action, 0) + 1
    return counts


def _flags(settings: Settings) -> str:
    """The flags to repeat in a suggested next command, so it acts on the same stack."""
    flags = "" if settings.stack == "orderpoc" else f" --stack {settings.stack}"
    return flags + ("" if settings.target == "local" else f" --target {settings.target}")


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors are one line and exit 2; no traceback unless ORDERPOC_DEBUG=1."""
    from orderpoc import cli_local, cli_trace  # noqa: F401 - registers the commands

    debug = os.environ.get("ORDERPOC_DEBUG") == "1"
    # A polite kill is handled like Ctrl-C, so cleanups (send-test-order's probe queue) still run.
    signal.signal(signal.SIGTERM, _interrupt)
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
        for key, error in exc.failures.items():
            ui.err_console.print(f"error: {key}: {error}", soft_wrap=True)
        ui.err_console.print("Nothing is lost: rerun the same command to converge.")
        code = 1
    except Exception as exc:
        if debug:
            raise
        ui.err_console.print(
            f"error: {type(exc).__name__}: {exc} (ORDERPOC_DEBUG=1 shows the traceback)", soft_wrap=True
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
