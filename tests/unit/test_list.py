"""`orderpoc list` through the CLI in-process against moto (target aws), and the table fitting
every command's tables share."""

from __future__ import annotations

import io
import json

import pytest
from moto import mock_aws
from rich.console import Console

from orderpoc import app, ui
from orderpoc.cli import main
from orderpoc.cli.output import validate
from orderpoc.settings import Settings


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    for var in ("AWS_PROFILE", "ORDERPOC_STACK", "ORDERPOC_REGION", "ORDERPOC_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ORDERPOC_TARGET", "aws")
    with mock_aws():
        yield tmp_path


def run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return exit_info.value.code, capsys.readouterr().out


def test_list_shows_known_stacks_and_those_only_the_tag_knows(aws, capsys):
    mine, elsewhere = aws / "mine", aws / "elsewhere"
    app.up(Settings(stack="known", target="aws", state_dir=mine), lambda event: None)
    app.up(Settings(stack="stray", target="aws", state_dir=elsewhere), lambda event: None)
    (mine / "broken.aws.json").write_text("{not json")

    code, out = run(capsys, "list", "--json", "--state-dir", str(mine))
    assert code == 0
    document = json.loads(out)
    validate("list", document)
    by_name = {entry["stack"]: entry for entry in document["stacks"]}
    assert by_name["known"]["source"] == "state" and by_name["known"]["tagged_resources"] > 0
    assert by_name["known"]["region"] == "us-east-1" and by_name["known"]["last_applied"].endswith("Z")
    assert by_name["stray"]["source"] == "tag" and by_name["stray"]["state_file"] is None
    assert by_name["broken"]["note"].startswith("unreadable")

    code, out = run(capsys, "list", "--state-dir", str(mine))
    assert code == 0 and "known" in out and "stray" in out and "not in this state dir" in out


def test_list_on_a_stopped_local_aws_does_not_start_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ORDERPOC_LOCAL_PORT", "1")
    code, out = run(capsys, "list", "--json", "--target", "local", "--state-dir", str(tmp_path))
    assert code == 0
    document = json.loads(out)
    assert document["stacks"] == [] and "not running" in document["notices"][0]
    assert not (tmp_path / "local").exists()  # no pid file, no log: nothing was started


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_tables_fit_by_dropping_columns_never_by_wrapping_names(width, monkeypatch):
    console = Console(width=width, record=True, file=io.StringIO())
    monkeypatch.setattr(ui, "console", console)
    name = "a-rather-long-stack-name-32-char"
    columns = [
        ui.Column("stack"),
        ui.Column("account", drop=2),
        ui.Column("when", drop=1, shorten=lambda s: s[:5]),
        ui.Column("note", flexible=True),
    ]
    rows = [[name, "123456789012", "2026-12-02T07:23:22Z", "a note that may fold"]]
    console.print(ui.fitted_table("t", columns, rows))
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    assert name in text  # whole, on one line
    if width >= 120:
        assert "2026-12-02T07:23:22Z" in text and "123456789012" in text
    if width == 80:
        assert "123456789012" in text and "2026-" in text and "2026-12-02T" not in text  # shortened first
