"""CLI contract: bad input is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading

import click
import pytest
from botocore.retries.standard import ExponentialBackoff

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
        (["status", "--target", "aws", "--endpoint-url", "ftp://x"], "invalid --endpoint-url 'ftp://x'"),
        (["status", "--target", "aws", "--endpoint-url", "localhost:4566"], "invalid --endpoint-url"),
        (["up", "--target", "aws", "--endpoint-url", "http://:80"], "invalid --endpoint-url"),
        (["down", "--target", "aws", "--endpoint-url", "http://host:port"], "invalid --endpoint-url"),
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
    for command in ("up", "plan", "down", "status", "send-test-order", "local"):
        assert f"  {command} " in out


def test_help_imports_neither_boto3_nor_rich():
    # Start-up time: --help is parsing and printing only (issue 14: at most 0.4x `aws --version`).
    probe = (
        "import sys; from orderpoc.cli import main\n"
        "try: main(['--help'])\n"
        "except SystemExit: pass\n"
        "sys.stderr.write(' '.join(m for m in ('boto3', 'botocore', 'rich') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr == ""


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

    monkeypatch.setattr("orderpoc.app.prepare_up", no_aws)
    monkeypatch.setattr("orderpoc.local.lifecycle.ensure_running", no_aws)
    code, err = run(capsys, "up", "--notify-email", address)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "state").exists()  # nothing touched: not even the state dir


@pytest.mark.parametrize(
    "argv, message",
    [
        (["status", "--lock-timeout", "nan"], "'nan' is not a finite number"),
        (["up", "--lock-timeout", "inf"], "'inf' is not a finite number"),
        (["send-test-order", "--rate", "NaN"], "'NaN' is not a finite number"),
        (["send-test-order", "--timeout", "nan"], "'nan' is not a finite number"),
    ],
)
def test_a_number_that_is_not_finite_is_refused(capsys, monkeypatch, argv, message):
    monkeypatch.setattr("orderpoc.local.lifecycle.ensure_running", lambda *a: pytest.fail("started the local AWS"))
    code, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--notify-email", "ops+orders@example.co.uk"], ["ops+orders@example.co.uk"]),
        (["--notify-email", "a@example.com", "--notify-email", "b@example.com"], ["a@example.com", "b@example.com"]),
        (["--no-notify-email"], []),
        ([], None),  # keep the recorded list
    ],
)
def test_the_email_setting_reaches_the_app_layer(capsys, monkeypatch, argv, expected):
    seen = {}

    def fake_prepare_up(settings, *, notify_emails):
        seen["emails"] = notify_emails
        raise SystemExit(0)

    monkeypatch.setattr("orderpoc.app.prepare_up", fake_prepare_up)
    with pytest.raises(SystemExit):
        main(["up", *argv])
    assert seen == {"emails": expected}


def test_notify_email_and_no_notify_email_exclude_each_other(capsys):
    code, err = run(capsys, "up", "--notify-email", "a@example.com", "--no-notify-email")
    assert code == 2 and "exclude each other" in err


class FakeEndpoint:
    """An HTTP server on 127.0.0.1 that answers every request with one canned response."""

    def __init__(self) -> None:
        self.status, self.content_type, self.body, self.requests = 200, "text/xml", "", 0
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = endpoint.body.encode()
                self.send_response(endpoint.status)
                self.send_header("Content-Type", endpoint.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, status: int, content_type: str, body: str) -> None:
        self.status, self.content_type, self.body = status, content_type, body


@pytest.fixture
def endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # botocore: no waiting
    monkeypatch.setattr("orderpoc.aws_retry.random.uniform", lambda a, b: 0.0)  # nor orderpoc
    fake = FakeEndpoint()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def sts_error(code: str) -> str:
    return (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>from STS</Message></Error>"
        "<RequestId>1</RequestId></ErrorResponse>"
    )


@pytest.mark.parametrize(
    "status, code, message",
    [
        (403, "InvalidClientTokenId", "the AWS credentials were rejected (InvalidClientTokenId: from STS)"),
        (403, "SignatureDoesNotMatch", "the AWS credentials were rejected (SignatureDoesNotMatch"),
        (400, "UnrecognizedClientException", "the AWS credentials were rejected (UnrecognizedClientException"),
        (400, "ExpiredToken", "the AWS credentials have expired (ExpiredToken: from STS)"),
    ],
)
def test_rejected_or_expired_credentials_are_one_line_exit_2(capsys, endpoint, status, code, message):
    endpoint.answer(status, "text/xml", sts_error(code))
    exit_code, err = run(capsys, "status", "--target", "aws", "--endpoint-url", endpoint.url)
    assert exit_code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_throttled_identity_check_is_retried_and_says_so(capsys, endpoint):
    endpoint.answer(400, "text/xml", sts_error("Throttling"))
    exit_code, err = run(capsys, "status", "--target", "aws", "--endpoint-url", endpoint.url)
    assert exit_code == 2
    assert "was throttled" in err and "rejected" not in err
    assert len(err.strip().splitlines()) == 1
    assert endpoint.requests > 3  # more than botocore's own three sends


@pytest.mark.parametrize(
    "status, content_type, body",
    [
        (200, "text/html", "<html><body>Welcome to nginx!</body></html>"),
        (404, "text/html", "<html><body>Not Found</body></html>"),
        (200, "text/plain", "garbage"),
        (200, "application/json", '{"ok": true}'),
        (200, "text/xml", "<GetCallerIdentityResponse><GetCallerIdentityResult/></GetCallerIdentityResponse>"),
        (500, "text/html", "<h1>Internal Server Error</h1>"),
    ],
)
def test_an_endpoint_that_is_not_aws_is_one_line_exit_2(capsys, endpoint, status, content_type, body):
    endpoint.answer(status, content_type, body)
    exit_code, err = run(capsys, "up", "--target", "aws", "--endpoint-url", endpoint.url)
    assert exit_code == 2
    assert f"{endpoint.url} is not an AWS-compatible endpoint" in err
    assert len(err.strip().splitlines()) == 1


def test_up_and_down_with_json_import_no_rich(tmp_path):
    # --json prints no progress: the live table's library is not loaded for it (~25 ms a start).
    probe = (
        "import json, sys\n"
        "from moto import mock_aws\n"
        "from orderpoc.cli import main\n"
        "args = ['--target', 'aws', '--region', 'us-east-1', '--state-dir', sys.argv[1], '--json', '--yes']\n"
        "with mock_aws():\n"
        "    for command in ('up', 'down'):\n"
        "        try: main([command, *args])\n"
        "        except SystemExit as exc: assert exc.code in (0, None), exc.code\n"
        "sys.stderr.write(' '.join(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
    printed = [json.loads(part) for part in done.stdout.replace("}\n{", "}\x00{").split("\x00")]
    assert [p["counts"] for p in printed][0] == {"create": 21}


def test_a_suggested_next_command_repeats_where_not_how_long_to_wait():
    from click.testing import CliRunner

    from orderpoc.cli.options import common_options, next_flags

    @click.command()
    @common_options
    def probe(settings):
        click.echo(next_flags())

    result = CliRunner().invoke(probe, ["--stack", "qa1", "--lock-timeout", "0", "--region", "eu-west-1"])
    assert result.output.strip() == "--stack qa1 --region eu-west-1"
