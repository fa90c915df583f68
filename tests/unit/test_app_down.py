"""down's last word: leftovers are asked again on AWS, whose tagging index lags behind deletes."""

from __future__ import annotations

import contextlib
import dataclasses
from types import SimpleNamespace

import pytest

from orderpoc import app, stack_session
from orderpoc.aws import Clients
from orderpoc.cli import main
from orderpoc.engine_types import Plan


def session(target: str):
    return SimpleNamespace(settings=SimpleNamespace(target=target))


def test_aws_leftovers_are_asked_again_until_the_index_catches_up(monkeypatch):
    answers = [["arn:aws:sqs:us-east-1:1:q"], ["arn:aws:sqs:us-east-1:1:q"], []]
    monkeypatch.setattr(app, "tagged_resources", lambda s: answers.pop(0))
    waits: list[float] = []
    assert app.settle_leftovers(session("aws"), sleep=waits.append) == []
    assert waits == [2.0, 4.0]


def test_aws_leftovers_that_stay_are_reported_after_the_patience(monkeypatch):
    monkeypatch.setattr(app, "tagged_resources", lambda s: ["arn:aws:sqs:us-east-1:1:q"])
    waits: list[float] = []
    assert app.settle_leftovers(session("aws"), patience=10, sleep=waits.append) == ["arn:aws:sqs:us-east-1:1:q"]
    assert sum(waits) <= 10


def test_aws_leftovers_no_delete_of_ours_can_remove_are_final_at_once(monkeypatch):
    bucket = "arn:aws:s3:::someone-elses-bucket"
    monkeypatch.setattr(app, "tagged_resources", lambda s: [bucket])
    assert app.settle_leftovers(session("aws"), sleep=lambda s: pytest.fail("a bucket is not waited for")) == [bucket]


def test_aws_leftovers_are_waited_for_while_one_is_ours_to_delete(monkeypatch):
    bucket, queue = "arn:aws:s3:::b", "arn:aws:sqs:us-east-1:1:q"
    answers = [[bucket, queue], [bucket]]
    monkeypatch.setattr(app, "tagged_resources", lambda s: answers.pop(0))
    waits: list[float] = []
    assert app.settle_leftovers(session("aws"), sleep=waits.append) == [bucket]
    assert waits == [2.0]


def test_local_leftovers_are_final_at_once(monkeypatch):
    monkeypatch.setattr(app, "tagged_resources", lambda s: ["arn:aws:sqs:us-east-1:1:q"])
    assert app.settle_leftovers(session("local"), sleep=lambda s: pytest.fail("no waiting on local")) == [
        "arn:aws:sqs:us-east-1:1:q"
    ]


def test_declining_the_confirmation_deletes_nothing(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ORDERPOC_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("click.confirm", lambda *a, **k: False)
    prepared = SimpleNamespace(
        session=SimpleNamespace(ctx=SimpleNamespace(account="123456789012")),
        plan=lambda: Plan([]),
        apply=lambda *a: pytest.fail("down must not run"),
    )
    monkeypatch.setattr(app, "prepare_down", lambda settings: contextlib.nullcontext(prepared))
    with pytest.raises(SystemExit) as exit_info:
        main(["down", "--target", "aws"])
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert "nothing deleted" in err and "account 123456789012" in out


def test_only_a_remote_aws_gets_every_find_at_once(app_moto, tmp_path):
    _, settings = app_moto
    with stack_session.open_session(settings, lock=False) as session:
        assert session.clients.remote and session.engine(lambda e: None).finds_at_once
    local = dataclasses.replace(settings, target="local")
    assert not Clients(local).remote  # the local AWS answers in a millisecond: no extra threads
