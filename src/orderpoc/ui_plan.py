"""Plans and changes as text: `plan`, and the preview `up` and `down` print before they act.

One line per resource with its action, each changed field under it as live -> desired; the
progress rows (ui_progress) reuse the same change text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text

from orderpoc.ui import console, err_console

if TYPE_CHECKING:  # only for types: importing the engine would pull in boto3 for `--help`
    from orderpoc.engine_types import Event, Plan, Step
    from orderpoc.resources.base import Change


def value_text(value: Any, limit: int = 60) -> str:
    """A config value on one line: strings bare, the rest as compact JSON, long ones cut."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def change_text(change: Change) -> str:
    return f"{change.field}: {value_text(change.live)} -> {value_text(change.desired)}"


def done_detail(event: Event) -> str:
    """What an update changed, or what forced a replace, for the progress row."""
    text = "; ".join(change_text(c) for c in event.changes)
    if event.forced_by:
        text = f"forced by {', '.join(event.forced_by)}" + (f"; {text}" if text else "")
    return text


_PLAN_STYLE = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "replace": ("-/+", "magenta"),
    "delete": ("-", "red"),
    "forget": ("x", "dim"),
    "unchanged": ("", "dim"),
    "unknown": ("?", "bold red"),
}


def plan_summary(plan: Plan) -> str:
    counts = plan.counts
    text = ", ".join(f"{counts[a]} to {a}" for a in ("create", "update", "replace", "delete"))
    # a state entry whose resource is already gone: a change to the state only, named apart
    return text + (f", {counts['forget']} state entries to forget" if counts["forget"] else "")


def print_plan(plan: Plan, title: str, *, to_stderr: bool = False) -> None:
    """One line per resource with its action; below it every changed field, live -> desired."""
    out = err_console if to_stderr else console
    out.print(f"[bold]{title}[/]", soft_wrap=True)
    for step in plan.steps:
        out.print(_plan_line(step), soft_wrap=True)
        for line in _plan_details(step):
            out.print(Text(f"      {line}", style="dim"), soft_wrap=True)
    if plan.errors:
        out.print(f"[bold red]Could not plan {len(plan.errors)} resource(s).[/]")
    elif not plan.pending:
        out.print("[bold green]No changes.[/] The stack matches its declaration.")
    out.print(f"Plan: {plan_summary(plan)}.")


def _plan_line(step: Step) -> Text:
    mark, style = _PLAN_STYLE.get(step.action, ("", ""))
    text = Text(f"{mark:>3} ", style=style)
    text.append(f"{step.action:<9}", style=style)
    text.append(f" {step.kind:<21} {step.name}")
    if step.action == "replace":
        text.append(f"  (forced by {', '.join(step.forced_by)})", style="magenta")
    return text


def _plan_details(step: Step) -> list[str]:
    if step.error:
        return [f"error: {step.error}"]
    if step.action == "forget":
        return ["recorded in the state, already gone from AWS: only the state entry goes"]
    if step.action in {"update", "replace"}:
        return [change_text(change) for change in step.changes]
    if step.action == "create":
        return [", ".join(f"{k}={value_text(v)}" for k, v in sorted(step.outputs.items()))] if step.outputs else []
    return []
