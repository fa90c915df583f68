"""Daily-use details of the CLI: the default local port, --verbose, shell completion."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from orderpoc import aws_calls
from orderpoc.cli import cli, local_commands, main
from orderpoc.cli.options import local_port
from orderpoc.settings import DEFAULT_LOCAL_PORT

# Default ports of what users of this tool run beside it (LocalStack, its external services range,
# moto server, DynamoDB Local, ElasticMQ, MinIO, Azurite, common dev servers).
TAKEN = {4566, *range(4510, 4560), 5000, 8000, 8080, 9000, 9324, 10000, 4000, 3000, 8001, 4571}


def test_the_default_local_port_is_no_common_emulators(monkeypatch):
    assert DEFAULT_LOCAL_PORT not in TAKEN and DEFAULT_LOCAL_PORT < 32768  # nor Linux's ephemeral range
    monkeypatch.delenv("ORDERPOC_LOCAL_PORT", raising=False)
    assert local_port() == DEFAULT_LOCAL_PORT
    assert f"default {DEFAULT_LOCAL_PORT}" in (local_commands.local.help or "")
    monkeypatch.setenv("ORDERPOC_LOCAL_PORT", "4999")
    assert local_port() == 4999


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_every_command_takes_verbose():
    def walk(command, path=()):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    for path, command in walk(cli):
        assert any("--verbose" in p.opts and "-v" in p.opts for p in command.params), path


def test_verbose_prints_each_aws_call_to_stderr(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(aws_calls, "_call_observers", [])
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        code, out, err = _run(capsys, "-v", "list", "--target", "aws", "--state-dir", str(tmp_path), "-v", "--json")
    assert code == 0 and json.loads(out)["stacks"] == []  # stdout stays the document
    lines = err.splitlines()
    assert lines[0].startswith("aws sts GetCallerIdentity ") and lines[0].endswith(" ms ok")
    assert any(line.startswith("aws resourcegroupstaggingapi GetResources ") for line in lines)
    assert len(lines) == 2  # one observer although -v was given twice


def test_verbose_reports_an_error_code(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(aws_calls, "_call_observers", [])
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        code, _, err = _run(capsys, "logs", "--target", "aws", "--state-dir", str(tmp_path), "-v")
    assert code == 1  # nothing deployed: said, and exit 1
    assert "aws logs FilterLogEvents" in err and "ResourceNotFoundException HTTP 400" in err
    assert "not deployed here" in err


def test_shell_completion_is_click_s(monkeypatch, capsys):
    monkeypatch.setenv("_ORDERPOC_COMPLETE", "bash_source")
    with pytest.raises(SystemExit):
        cli.main(args=[], prog_name="orderpoc")
    assert "_orderpoc_completion" in capsys.readouterr().out
