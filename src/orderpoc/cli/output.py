"""The one JSON contract every command's `--json` follows (docs/json.md).

Every document carries `format_version`, uses snake_case keys, and has a JSON Schema in
`orderpoc/schemas/{name}.json` that the tests validate real output against, so a change of shape is
a deliberate act: bump FORMAT_VERSION for a breaking change, edit the schema and docs/json.md.

Adopting it is one call: `emit("plan", {...})` (one document) or `emit_line("logs", {...})` (one
JSON Lines record). Drift goes through `drift_items`, so it is `{field, live, desired}` everywhere.
Printed with click.echo, never rich, so no terminal width ever wraps a document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import click

FORMAT_VERSION = 1
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_DRIFT_TEXT = re.compile(r"^(?P<field>[^:]+): (?P<live>.*) -> (?P<desired>.*)$", re.DOTALL)


def document(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with the contract's envelope: `format_version` first."""
    return {"format_version": FORMAT_VERSION, **body}


def emit(name: str, body: Mapping[str, Any]) -> None:
    """Print one JSON document of schema `name` (indented, whole, never wrapped)."""
    del name  # the schema the tests hold this document to; kept at the call site for readers
    click.echo(json.dumps(document(body), indent=2, default=str))


def emit_line(name: str, body: Mapping[str, Any]) -> None:
    """Print one JSON Lines record of schema `name` (a stream: `logs --json`), flushed at once."""
    del name
    click.echo(json.dumps(document(body), default=str, separators=(",", ":")))


def drift_items(drift: Iterable[Any]) -> list[dict[str, Any]]:
    """Drift as `{field, live, desired}`: from structured items (objects or mappings with those
    fields) as the engine reports them, or from the older "field: live -> desired" text."""
    items = []
    for entry in drift:
        if isinstance(entry, Mapping):
            items.append({k: entry.get(k) for k in ("field", "live", "desired")})
        elif hasattr(entry, "field"):
            items.append({k: getattr(entry, k, None) for k in ("field", "live", "desired")})
        elif match := _DRIFT_TEXT.match(str(entry)):
            items.append(match.groupdict())
        else:
            items.append({"field": str(entry), "live": None, "desired": None})
    return items


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the documents `emit(name, ...)` prints."""
    text = resources.files("orderpoc").joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_names() -> list[str]:
    folder = resources.files("orderpoc").joinpath("schemas")
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def validate(name: str, doc: Any) -> None:
    """Raise jsonschema.ValidationError unless `doc` matches schema `name` (tests use this)."""
    import jsonschema

    jsonschema.validate(doc, schema(name), cls=jsonschema.Draft202012Validator)


def is_snake(key: str) -> bool:
    return bool(_SNAKE.match(key))
