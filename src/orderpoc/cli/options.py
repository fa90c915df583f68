"""What every command shares: the common options, --json, and the helpers that print for scripts.

Command modules import this one and nothing of each other; `orderpoc.cli` assembles the group.
Nothing heavy (boto3, the engine) is imported here, so `orderpoc --help` stays fast.
"""

from __future__ import annotations

import functools
import math
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from orderpoc.errors import UserError
from orderpoc.settings import (
    DEFAULT_LOCAL_PORT,
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_REGION,
    DEFAULT_STACK,
    TARGETS,
    Settings,
    validate_email,
    validate_region,
)


class FiniteFloat(click.FloatRange):
    """A finite number at least `min`: FloatRange lets nan through (nan < 0 is false), and a lock
    timeout of nan waited forever."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


Command = Callable[..., Any]


def common_options(command: Command) -> Command:
    """The options every stack command takes; each also reads an ORDERPOC_* environment variable."""
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
        state_dir_option,
        click.option(
            "--state-url",
            default=None,
            envvar="ORDERPOC_STATE_URL",
            metavar="s3://BUCKET/PREFIX",
            help="Keep the stack's state in S3 (shared, locked) instead of the file in --state-dir.",
        ),
        click.option(
            "--lock-timeout",
            type=FiniteFloat(min=0),
            default=DEFAULT_LOCK_TIMEOUT,
            envvar="ORDERPOC_LOCK_TIMEOUT",
            show_default=True,
            metavar="SECONDS",
            help="How long to wait for another command's lock on the stack's state.",
        ),
        click.option(
            "--project",
            "project_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            envvar="ORDERPOC_PROJECT",
            help="Project folder (orderpoc.toml) [default: found upward from here, else the built-in pipeline].",
        ),
        click.option(
            "--stage", default=None, envvar="ORDERPOC_STAGE", help="Apply orderpoc.toml's [stages.NAME] settings."
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
        state_url: str | None,
        lock_timeout: float,
        project_dir: Path | None,
        stage: str | None,
        **kwargs: Any,
    ) -> Any:
        from orderpoc import project

        found = project.find(project_dir)
        if stage and found.root is None:
            raise UserError(f"--stage {stage} needs a project (orderpoc.toml): create one with `orderpoc init`")
        table = found.resolved(stage)
        # The file overrides the defaults; the command line (and ORDERPOC_* variables) override the file.
        stack = table.get("stack", stack) if _defaulted("stack") else stack
        target = table.get("target", target) if _defaulted("target") else target
        region = region or table.get("region")
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
            local_port=local_port(),
            state_url=state_url or None,
            lock_timeout=lock_timeout,
            config=found.stack_config(stage),
            source=found.source if found.root else None,
            stage=stage,
        )
        if settings.state_url:
            from orderpoc.state_s3 import parse_url  # deferred: --help does not need the stores

            parse_url(settings.state_url)  # a bad URL is one line before anything starts
        return command(settings, **kwargs)

    decorated: Command = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".orderpoc"),
    envvar="ORDERPOC_STATE_DIR",
    show_default=True,
    help="Where state files (and the local AWS's pid, log and outbox) live.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")


def _defaulted(parameter: str) -> bool:
    """True when the user gave neither the option nor its environment variable."""
    source = click.get_current_context().get_parameter_source(parameter)
    return source in (None, click.core.ParameterSource.DEFAULT)


def notify_email_options(command: Command) -> Command:
    """--notify-email ADDR (repeatable) and --no-notify-email, passed on as `notify_emails`: the
    stack's email setting (a list; [] clears it) or None to keep the one the state records."""

    @functools.wraps(command)
    def wrapper(*args: Any, notify_email: tuple[str, ...], no_notify_email: bool, **kwargs: Any) -> Any:
        return command(*args, notify_emails=notify_emails(notify_email, no_notify_email), **kwargs)

    decorated: Command = click.option(
        "--no-notify-email", is_flag=True, help="Unsubscribe every address: the stack's email list becomes empty."
    )(wrapper)
    return click.option(
        "--notify-email",
        multiple=True,
        metavar="ADDRESS",
        help="Subscribe this address to the topic; repeat for several. The list replaces the recorded one; "
        "without the option the recorded list is kept, removed addresses are unsubscribed.",
    )(decorated)


def notify_emails(addresses: tuple[str, ...], clear: bool) -> list[str] | None:
    """The email setting from the options, each address validated before any AWS call."""
    if clear and addresses:
        raise UserError("--notify-email and --no-notify-email exclude each other")
    if clear:
        return []
    return [validate_email(address) for address in addresses] or None


def where(settings: Settings) -> dict[str, str]:
    """Which stack a document is about: the first keys of every stack command's JSON."""
    return {"stack": settings.stack, "target": settings.target, "region": settings.region}


def confirmed(question: str, *, yes: bool, refusal: str) -> bool:
    """--yes, or the user's answer on a terminal; off a terminal without --yes: refuse (exit 2)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UserError(refusal)
    return click.confirm(question, err=True)


def local_port() -> int:
    """The embedded AWS's port: ORDERPOC_LOCAL_PORT, else the default."""
    raw = os.environ.get("ORDERPOC_LOCAL_PORT", str(DEFAULT_LOCAL_PORT))
    if not raw.isdigit():
        raise UserError(f"ORDERPOC_LOCAL_PORT must be a port number, got {raw!r}")
    return int(raw)


NOT_WHERE = frozenset({"lock_timeout"})  # common options that do not say which stack: not repeated


def next_flags(settings: Settings | None = None) -> str:
    """The common options given on this command line, to repeat in a suggested next command so it
    acts on the same stack, target, region, endpoint and state (values from the environment still
    apply in the same shell, so they are not repeated). `settings` is not needed: click knows."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return ""
    flags = []
    for param in ctx.command.params:
        if param.name not in _common_names() or ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
            continue
        if param.name in NOT_WHERE:
            continue
        value = ctx.params.get(param.name)
        if value is not None:
            flags.append(f" {param.opts[0]} {shlex.quote(str(value))}")
    return "".join(flags)


@functools.cache
def _common_names() -> frozenset[str]:
    """The parameter names common_options adds (whatever options it grows)."""
    probe = common_options(lambda settings: None)
    return frozenset(str(param.name) for param in getattr(probe, "__click_params__", []))


def write_text(path: Path, text: str) -> None:
    """Write a picture or report the user asked for; a path that cannot be written is their error."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Once per run (`orderpoc -v up -v` is one observer): ctx.meta is shared by the whole run."""
    if value and not ctx.meta.get("orderpoc.verbose"):
        from orderpoc import aws_calls, ui_lines  # deferred: rich only when asked for

        ctx.meta["orderpoc.verbose"] = True
        aws_calls.observe_calls(ui_lines.print_aws_call)


def add_verbose(command: click.Command) -> None:
    """-v/--verbose on the command and, for a group, on every command under it."""
    command.params.append(
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_verbose,
            help="Print each AWS call (service, operation, milliseconds, outcome) to stderr.",
        )
    )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_verbose(sub)
