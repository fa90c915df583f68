"""CLI contract: bad input is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import pytest

from orderpoc.cli import main


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch, tmp_path):
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "ORDERPOC_STACK",
        "ORDERPOC_TARGET",
        "ORDERPOC_REGION",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("ORDERPOC_STATE_DIR", str(tmp_path / "state"))


def run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["up", "--stack", "Bad_Name"], "invalid stack name 'Bad_Name'"),
        (["status", "--stack", "x" * 40], "invalid stack name"),
        (["status", "--stack", "ends-"], "invalid stack name"),
        (["up", "--region", "mars-north-9"], "unknown region 'mars-north-9'"),
        (["up", "--target", "moon"], "Invalid value for '--target'"),
        (["up", "--no-such-option"], "No such option"),
        (["status", "--target", "aws"], "no AWS credentials found"),
        (["up", "--endpoint-url", "http://127.0.0.1:9"], "--endpoint-url goes with --target aws"),
        (["send-test-order", "--count", "0"], "Invalid value for '--count'"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    code, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_unreachable_endpoint_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    code, err = run(capsys, "status", "--target", "aws", "--endpoint-url", "http://127.0.0.1:9")
    assert code == 2
    assert "cannot reach the AWS endpoint http://127.0.0.1:9" in err
    assert len(err.strip().splitlines()) == 1


def test_down_on_aws_off_a_terminal_needs_yes(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, err = run(capsys, "down", "--target", "aws")
    assert code == 2 and "--yes" in err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for command in ("up", "down", "status", "send-test-order", "local"):
        assert f"  {command} " in out


@pytest.mark.parametrize(
    "address, message",
    [
        ("not-an-email", "invalid email address 'not-an-email'"),
        ("a" * 4988 + "@example.com", "5000 characters, at most 254"),
        ("ops@example.com\nBcc: all@example.com", r"invalid email address 'ops@example.com\nBcc"),
        ("", "invalid email address ''"),
    ],
)
def test_notify_email_is_refused_before_any_aws_call(capsys, monkeypatch, tmp_path, address, message):
    def no_aws(*args, **kwargs):
        raise AssertionError("reached the app layer")

    monkeypatch.setattr("orderpoc.app.up", no_aws)
    monkeypatch.setattr("orderpoc.local.lifecycle.ensure_running", no_aws)
    code, err = run(capsys, "up", "--notify-email", address)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "state").exists()  # nothing touched: not even the state dir


def test_a_valid_notify_email_reaches_the_app_layer(capsys, monkeypatch):
    seen = {}

    def fake_up(settings, tracker, *, notify_email):
        seen["email"] = notify_email
        raise SystemExit(0)

    monkeypatch.setattr("orderpoc.app.up", fake_up)
    with pytest.raises(SystemExit):
        main(["up", "--notify-email", "ops+orders@example.co.uk"])
    assert seen == {"email": "ops+orders@example.co.uk"}
