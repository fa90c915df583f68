"""`orderpoc init [DIR]`: write a project folder to make the pipeline your own."""

from __future__ import annotations

from pathlib import Path

import click

from orderpoc.cli.lazy import ui


@click.command(short_help="Write a project: orderpoc.toml and the functions' code to edit.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--stack", default=None, help="The project's stack name [default: from the folder's name].")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, stack: str | None, force: bool) -> None:
    """Write orderpoc.toml, lambda_src/ (a copy of the three handlers and their shared modules),
    an empty requirements.txt and a README into DIRECTORY (default: here). Inside it, `orderpoc up`
    deploys that code with those settings. Refuses to overwrite a file unless --force."""
    from orderpoc import project
    from orderpoc.settings import validate_stack

    if stack is not None:
        validate_stack(stack)
    written = project.init(directory, stack=stack, force=force)
    ui.console.print(f"[bold green]Project written[/] in {directory.resolve()} ({len(written)} files).")
    ui.console.print(f"Next: [bold]cd {directory} && orderpoc up[/]  (edit lambda_src/ and orderpoc.toml first)")
