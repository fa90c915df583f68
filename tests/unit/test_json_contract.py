"""The JSON contract (docs/json.md): every --json has a schema, the schemas are valid and snake_case,
and the envelope and drift shape are what the docs promise. Real output is validated against the
schemas by the e2e tests (tests/e2e/conftest.py: Cli.json)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import jsonschema
import pytest

from orderpoc.cli import cli, main
from orderpoc.cli.output import FORMAT_VERSION, drift_items, is_snake, schema, schema_names, validate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json.md"


def _json_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found += _json_commands(command, path)
        elif any(param.name == "as_json" for param in command.params):
            found.append("-".join(path))
    return found


def _property_names(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _property_names(value)


def test_every_json_command_has_a_schema_and_an_example_in_the_docs():
    commands = _json_commands(cli)
    assert {"up", "down", "status", "send-test-order", "local-status", "local-outbox"} <= set(commands)
    assert sorted(commands) == [n for n in schema_names() if n in commands]  # no command without a schema
    assert set(schema_names()) <= set(commands)  # no schema left over from a removed command
    docs = DOCS.read_text()
    for name in commands:
        grouped = name.startswith(("local-", "state-"))
        assert f"orderpoc {name.replace('-', ' ', 1) if grouped else name}" in docs, name


@pytest.mark.parametrize("name", schema_names())
def test_schemas_are_valid_and_snake_case(name):
    document = schema(name)
    jsonschema.Draft202012Validator.check_schema(document)
    assert [key for key in _property_names(document) if not is_snake(key)] == []
    assert document.get("properties", {}).get("format_version") or "oneOf" in document


def test_a_change_of_shape_fails_validation():
    good = {"format_version": FORMAT_VERSION, "stopped": False, "port": 1}
    validate("local-stop", good)
    for bad in ({**good, "format_version": 2}, {**good, "extra": 1}, {"stopped": False, "port": 1}):
        with pytest.raises(jsonschema.ValidationError):
            validate("local-stop", bad)


def test_drift_is_field_live_desired():
    assert drift_items(["Enabled: false -> true", {"field": "a", "live": 1, "desired": 2, "x": 0}]) == [
        {"field": "Enabled", "live": "false", "desired": "true"},
        {"field": "a", "live": 1, "desired": 2},
    ]


def test_local_stop_json_carries_the_envelope(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERPOC_LOCAL_PORT", "1")
    with pytest.raises(SystemExit) as exit_info:
        main(["local", "stop", "--json", "--state-dir", str(tmp_path)])
    assert exit_info.value.code == 0
    document = json.loads(capsys.readouterr().out)
    validate("local-stop", document)
    assert document == {"format_version": FORMAT_VERSION, "stopped": False, "port": 1}
