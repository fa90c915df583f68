"""`orderpoc state show|pull|push|migrate|unlock|init-bucket`: a stack's state, never its resources."""

from __future__ import annotations

import json

import click

from orderpoc.cli.lazy import ui
from orderpoc.cli.options import common_options, json_option
from orderpoc.cli.output import emit
from orderpoc.settings import Settings

force_option = click.option("--force", is_flag=True, help="Overwrite the destination even if its serial is newer.")


@click.group(short_help="Show, move and unlock a stack's state; create an S3 state bucket.")
def state() -> None:
    """A stack's state: where it is, what it holds, who holds its lock.

    \b
    The state lives in the file {state-dir}/{stack}.{target}.json unless --state-url
    s3://BUCKET/PREFIX (or ORDERPOC_STATE_URL) puts it in S3 as {PREFIX}/{stack}.{target}.json,
    shared and locked. None of these commands touches a resource of the stack.
    See docs/state.md.
    """


@state.command(short_help="Print the stack's state and who holds its lock.")
@common_options
@json_option
def show(settings: Settings, as_json: bool) -> None:
    """Print the stack's state document, its serial and its lock holder, if any."""
    from orderpoc import state_ops

    result = state_ops.show(settings)
    holder = result.holder.__dict__ if result.holder else None
    if as_json:
        emit(
            "state-show",
            {"url": result.url, "exists": result.exists, "serial": result.serial, "lock": holder, "state": result.data},
        )
        return
    if not result.exists:
        ui.console.print(f"no state for stack {settings.stack} ({settings.target}) at {result.url}", soft_wrap=True)
    else:
        ui.console.print(f"{result.url}  serial {result.serial}, {len(result.data.get('resources', {}))} resources")
        click.echo(json.dumps(result.data, indent=2, sort_keys=True))
    if result.holder:
        ui.console.print(f"locked by {result.holder.describe()}, lock {result.holder.id}", soft_wrap=True, markup=False)


def _print_copy(result: object, verb: str) -> None:
    from orderpoc.state_ops import CopyResult

    assert isinstance(result, CopyResult)
    if not result.copied:
        ui.console.print(f"{result.destination} already holds serial {result.serial}: nothing to copy", soft_wrap=True)
    else:
        ui.console.print(f"{verb} serial {result.serial}: {result.source} -> {result.destination}", soft_wrap=True)
    if result.removed_source:
        ui.console.print(
            f"removed {result.source}; the stack's state now lives at {result.destination}", soft_wrap=True
        )


@state.command(short_help="Copy the state from --state-url to the state file.")
@common_options
@force_option
def pull(settings: Settings, force: bool) -> None:
    """Copy the stack's state from --state-url (S3) to the file in --state-dir."""
    from orderpoc import state_ops

    _print_copy(state_ops.pull(settings, force=force), "pulled")


@state.command(short_help="Copy the state file to --state-url.")
@common_options
@force_option
def push(settings: Settings, force: bool) -> None:
    """Copy the stack's state from the file in --state-dir to --state-url (S3)."""
    from orderpoc import state_ops

    _print_copy(state_ops.push(settings, force=force), "pushed")


@state.command(short_help="Move the state to another store (S3 or the file).")
@common_options
@click.option("--to", "to", required=True, metavar="s3://BUCKET/PREFIX|file", help="Where the state goes.")
@force_option
def migrate(settings: Settings, to: str, force: bool) -> None:
    """Move the stack's state from where it is now (--state-url, else the file) to --to, then remove it
    at the source. `--to file` means the file in --state-dir."""
    from orderpoc import state_ops

    _print_copy(state_ops.migrate(settings, to, force=force), "moved")


@state.command(short_help="Force-release a lock whose command is dead.")
@common_options
@click.argument("lock_id")
def unlock(settings: Settings, lock_id: str) -> None:
    """Release the stack's lock LOCK_ID (named by the command that found it held). Only for a holder
    that is dead: a live one would go on writing without the lock."""
    from orderpoc import state_ops

    url, holder = state_ops.unlock(settings, lock_id)
    ui.console.print(f"released lock {holder.id} on {url}, held by {holder.describe()}", soft_wrap=True, markup=False)


@state.command("init-bucket", short_help="Create a private, versioned, encrypted S3 bucket for state.")
@common_options
@click.argument("url", metavar="s3://BUCKET")
def init_bucket(settings: Settings, url: str) -> None:
    """Create (or converge) a state bucket: versioning on, public access blocked, default
    encryption (SSE-S3), a bucket policy that denies any request not made over TLS."""
    from orderpoc import state_ops

    result = state_ops.init_bucket(settings, url)
    what = "created" if result.created else "exists"
    changed = f"; set: {', '.join(result.changed)}" if result.changed else "; already private, nothing changed"
    ui.console.print(f"bucket {result.bucket} {what}{changed}", soft_wrap=True)
    for skipped in result.skipped:
        ui.console.print(f"[yellow]not set:[/] {skipped}", soft_wrap=True)
    ui.console.print(f"Next: orderpoc up --state-url s3://{result.bucket}/orderpoc", soft_wrap=True, markup=False)
