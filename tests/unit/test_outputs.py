"""`orderpoc outputs` and up's closing hint, through the CLI in-process against moto (target aws)."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from orderpoc import app
from orderpoc.cli import main
from orderpoc.cli.output import validate
from orderpoc.settings import Settings

STACK = "outs"


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    for var in ("AWS_PROFILE", "ORDERPOC_STACK", "ORDERPOC_TARGET", "ORDERPOC_REGION", "ORDERPOC_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ORDERPOC_STACK", STACK)
    monkeypatch.setenv("ORDERPOC_TARGET", "aws")
    monkeypatch.setenv("ORDERPOC_STATE_DIR", str(tmp_path / "state"))
    with mock_aws():
        yield tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_outputs_hides_the_key_unless_asked(deployed, capsys):
    app.up(Settings(stack=STACK, target="aws", state_dir=deployed / "state"), lambda event: None)
    code, out, _ = run(capsys, "outputs", "--json")
    assert code == 0
    document = json.loads(out)
    validate("outputs", document)
    assert document["api_key"]["value"] is None and "$ORDERPOC_API_KEY" in document["curl"]
    assert document["urls"]["post_order"] == document["invoke_url"] + "/order"
    assert document["table"]["arn"].endswith(f":table/{STACK}-orders")
    assert document["topic"]["arn"].endswith(f":{STACK}-order-events")

    code, out, _ = run(capsys, "outputs", "--json", "--show-key")
    shown = json.loads(out)
    assert code == 0 and shown["api_key"]["id"] == document["api_key"]["id"]
    key = shown["api_key"]["value"]
    assert key and f"x-api-key: {key}" in shown["curl"]

    code, text, _ = run(capsys, "outputs")
    assert code == 0 and key not in text and "orderpoc outputs --show-key" in text
    assert f"{document['urls']['post_order']}" in text


def test_outputs_of_a_stack_not_deployed_is_one_line_exit_2(deployed, capsys):
    code, out, err = run(capsys, "outputs")
    assert code == 2 and out == ""
    assert "not deployed here" in err and len(err.strip().splitlines()) == 1


def test_next_hint_repeats_every_option_given(deployed, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal must not cut the hint either
    state = deployed / "other state"
    code, out, _ = run(capsys, "up", "--region", "eu-west-1", "--state-dir", str(state), "--stack", "outs2")
    assert code == 0
    flags = f"--stack outs2 --region eu-west-1 --state-dir '{state}'"
    assert f"Next: orderpoc send-test-order {flags}" in out
    assert f"orderpoc outputs --show-key {flags}" in out
    assert "--target" not in out  # it came from the environment, which the next command sees too
