"""The CLI of plan and of up's and down's confirmations, in-process against moto (target aws)."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from conftest import fake_credentials
from orderpoc.cli import main
from orderpoc.cli.output import validate


@pytest.fixture
def aws_cli(monkeypatch, tmp_path, capsys):
    fake_credentials(monkeypatch)
    monkeypatch.setenv("ORDERPOC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ORDERPOC_STACK", "cli")
    with mock_aws():

        def run(*argv: str) -> tuple[int, str, str]:
            with pytest.raises(SystemExit) as exit_info:
                main([*argv, "--target", "aws"])
            out, err = capsys.readouterr()
            return exit_info.value.code, out, err

        yield run


def test_plan_exit_codes_and_json(aws_cli):
    code, out, _ = aws_cli("plan", "--json")
    document = json.loads(out)
    validate("plan", document)
    assert code == 3 and document["pending"] is True
    assert document["summary"] == {"create": 21, "update": 0, "replace": 0, "delete": 0, "forget": 0}
    assert {r["action"] for r in document["resources"]} == {"create"}
    assert aws_cli("up")[0] == 0
    code, out, _ = aws_cli("plan")
    assert code == 0 and "No changes." in out and "0 to create, 0 to update, 0 to replace, 0 to delete" in out
    code, out, _ = aws_cli("plan", "--destroy", "--json")
    assert code == 3 and json.loads(out)["summary"]["delete"] == 21


def _start_the_stream_mapping_at_latest() -> None:
    """Out of band: a field the mapping cannot change in place, so up must replace it."""
    import boto3

    lam = boto3.client("lambda", region_name="us-east-1")
    old = lam.list_event_source_mappings(FunctionName="cli-notifier")["EventSourceMappings"][0]
    lam.delete_event_source_mapping(UUID=old["UUID"])
    lam.create_event_source_mapping(
        FunctionName="cli-notifier", EventSourceArn=old["EventSourceArn"], StartingPosition="LATEST"
    )


def test_up_on_aws_confirms_a_replace_and_refuses_off_a_terminal(aws_cli, monkeypatch):
    assert aws_cli("up")[0] == 0  # creates only: no question
    _start_the_stream_mapping_at_latest()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, out, err = aws_cli("up")
    assert code == 2 and "--yes" in err
    assert "replace" in out and "forced by starting_position" in out  # the plan was shown first
    code, out, _ = aws_cli("plan", "--json")
    assert code == 3  # nothing was changed
    assert [r["key"] for r in json.loads(out)["resources"] if r["action"] == "replace"] == ["esm:notifier"]

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("click.confirm", lambda *a, **k: False)
    code, _, err = aws_cli("up")
    assert code == 1 and "nothing changed" in err
    code, out, _ = aws_cli("up", "--yes", "--json")
    assert code == 0 and json.loads(out)["actions"]["esm:notifier"] == "replace"
    assert aws_cli("plan")[0] == 0


def test_down_on_aws_lists_what_it_deletes_and_the_account_before_asking(aws_cli, monkeypatch):
    assert aws_cli("up")[0] == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    questions = []
    monkeypatch.setattr("click.confirm", lambda question, **k: questions.append(question) and False)
    code, out, err = aws_cli("down")
    assert code == 1 and "nothing deleted" in err
    assert "123456789012" in out and "21 to delete" in out and "delete    sqs_queue" in out
    assert "123456789012" in questions[0]
    assert aws_cli("plan")[0] == 0  # still all there
