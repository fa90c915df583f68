"""`orderpoc diagram`: the stack drawn from the Specs `up` walks, declared or live."""

from __future__ import annotations

from pathlib import Path

import click

from orderpoc.cli.lazy import ui
from orderpoc.cli.options import common_options, write_text
from orderpoc.settings import Settings

FORMATS = ("svg", "mermaid", "text")  # as orderpoc.diagram_draw.FORMATS, checked by a test


@click.command(short_help="Draw the stack: every resource, dependency and the order's data path.")
@common_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="svg", show_default=True, help="Picture format.")
@click.option("--live", is_flag=True, help="Read the deployed stack (as `status` does) and colour each resource.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the picture to this file instead of standard output.",
)
def diagram(settings: Settings, fmt: str, live: bool, out: Path | None) -> None:
    """Draw the stack from the same Specs `up` walks, so the picture cannot drift from the code.

    Without --live it is the stack as declared: no endpoint, no AWS call, no emulator started.
    With --live each resource is coloured ok / missing / drifted, with queue depths and the item
    count; the exit code is then 1 unless everything is ok, as with `status`.

    \b
    orderpoc diagram --out stack.svg          # open in a browser
    orderpoc diagram --format mermaid         # paste into Markdown
    orderpoc diagram --format text --live
    """
    from orderpoc import app, diagram_draw
    from orderpoc.diagram import build_model
    from orderpoc.stack_session import declared_specs

    result = app.status(settings) if live else None
    specs = declared_specs(settings)
    model = build_model(specs, settings.stack, result.reports if result else None)
    picture = diagram_draw.render(model, fmt)
    if out:
        write_text(out, picture)
        ui.console.print(f"wrote {out} ({len(model.nodes)} resources, {fmt})", soft_wrap=True)
    else:
        click.echo(picture, nl=False)
    if result:
        for notice in result.notices:  # stderr: stdout may be the picture
            ui.err_console.print(f"note: {notice}", soft_wrap=True)
        if not result.healthy:
            raise SystemExit(1)
