"""What is deployed: `status`'s table of one stack's resources and `list`'s table of stacks.

Both are fitted tables (orderpoc.ui): ids and figures give way before a name is wrapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text

from orderpoc.ui import Column, console, fitted_table, print_notices

if TYPE_CHECKING:  # only for types: importing the engine would pull in boto3 for `--help`
    from orderpoc.engine_types import Report

_STATE_STYLE = {"ok": "green", "missing": "red", "drifted": "yellow", "unknown": "magenta"}


def short_id(outputs: dict[str, Any]) -> str:
    """The identifier an operator recognises: an id, or the resource part of an ARN."""
    for key in ("id", "uuid", "statement_id", "stage"):
        if outputs.get(key):
            return str(outputs[key])
    arn = str(outputs.get("arn") or "")
    return arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn


def _short_id(ident: str) -> str:
    return ident if len(ident) <= 10 else ident[:8] + "…"


def drift_text(drift: list[Any]) -> str:
    """Drift for people, whether the engine reports text or {field, live, desired} items."""
    parts = []
    for item in drift:
        if isinstance(item, str):
            parts.append(item)
            continue
        fields = item if isinstance(item, dict) else vars(item)
        parts.append(f"{fields.get('field')}: {fields.get('live')} -> {fields.get('desired')}")
    return "; ".join(parts)


def status_table(reports: list[Report]) -> Group:
    """One row per resource, names whole; the id is shortened, then dropped, then the figures, to
    fit the width. What drifted (or failed) is listed under the table, one resource a line."""
    columns = [
        Column("resource"),
        Column("name"),
        Column("state"),
        Column("id", drop=2, shorten=_short_id),
        Column("figures", drop=1),
    ]
    rows: list[list[str | Text]] = []
    details: list[Text] = []
    for report in reports:
        if detail := drift_text(report.drift) or report.error:
            details.append(Text.assemble((f"{report.key}: ", _STATE_STYLE.get(report.state, "")), detail))
        figures = "\n".join(f"{k}={v}" for k, v in report.figures.items())
        ident = short_id(report.outputs)
        # An ARN derived from the name says nothing new; full ARNs are in --json.
        state = Text(report.state, style=_STATE_STYLE.get(report.state, ""))
        rows.append([report.key, report.name, state, "" if report.name in ident else ident, figures])
    return Group(fitted_table("orderpoc status", columns, rows), *details)


# -- orderpoc list ------------------------------------------------------------------------------
def _minute(stamp: str) -> str:
    """2026-12-02T07:29:48Z -> 12-02 07:29 (shortened column)."""
    return stamp[5:16].replace("T", " ") if len(stamp) >= 16 else stamp


def print_stack_list(data: dict[str, Any]) -> None:
    columns = [
        Column("stack"),
        Column("target"),
        Column("region", drop=2),
        Column("account", drop=3),
        Column("last applied", shorten=_minute, drop=4),
        Column("tagged", justify="right", drop=1),
        Column("note", flexible=True, shorten=lambda note: note.split(":")[0]),
    ]
    rows: list[list[str | Text]] = []
    for entry in data["stacks"]:
        tagged = entry["tagged_resources"]
        note = entry["note"] or ("not in this state dir" if entry["source"] == "tag" else "")
        rows.append(
            [
                Text(entry["stack"], style="bold"),
                entry["target"],
                entry["region"] or "-",
                entry["account"] or "-",
                entry["last_applied"] or "-",
                "-" if tagged is None else str(tagged),
                Text(note, style="yellow" if entry["source"] == "tag" else "dim"),
            ]
        )
    where = f"{data['target']}, {data['region']}"
    if not rows:
        console.print(f"no stacks: none in this state dir and none tagged {where}", soft_wrap=True)
    else:
        console.print(fitted_table(f"stacks (tag search: {where})", columns, rows))
    print_notices(data["notices"])
