"""Shared state in S3 through the real CLI, the bucket in the embedded AWS: racing operators,
a killed command's lock, and moving state between the file and S3."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import pytest

pytestmark = pytest.mark.e2e
BUCKET = "e2e-state"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@pytest.fixture(scope="module")
def bucket(cli):
    out = cli.run("state", "init-bucket", f"s3://{BUCKET}").stdout
    assert f"bucket {BUCKET}" in out and "versioning on" in out
    return BUCKET


def _background(cli, args: tuple[str, ...], stdout: Any, stderr: Any) -> subprocess.Popen:
    """An orderpoc command in the background, with these credentials and outputs."""
    return subprocess.Popen(
        [sys.executable, "-m", "orderpoc", *args],
        cwd=cli.cwd,
        env={**cli.env, **CREDENTIALS},
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


def _start(cli, tmp_path, name: str, *args: str) -> tuple[subprocess.Popen, object]:
    """An orderpoc command in the background, its output in files (no pipe to fill)."""
    out = open(tmp_path / f"{name}.out", "w+")  # noqa: SIM115 - closed by _finish
    return _background(cli, args, out, subprocess.STDOUT), out


def _finish(process: subprocess.Popen, out, timeout: float = 300) -> tuple[int, str]:
    code = process.wait(timeout)
    out.seek(0)
    text = out.read()
    out.close()
    return code, text


@dataclass
class Held:
    """A command whose stdout is a pipe the test filled before starting it: the command blocks on
    the first line it prints until `release` drains the pipe. An `up` prints its first line when a
    resource is done, with the state lock held, so once the lock is seen the command can be
    signalled while it still holds the lock, however slow this test's process is scheduled. (Seen,
    then signalled, without the hold, is a race the command wins on a loaded machine: it releases
    the lock and finishes before the signal arrives, exit 0 with its whole output.)"""

    process: subprocess.Popen
    stdout: int  # the pipe's read end
    stderr: object
    filler: int  # bytes the test wrote into the pipe before the command's own

    def release(self, timeout: float = 300) -> tuple[int, str]:
        """Drain the pipe until the command exits; its exit code and its output (stdout, stderr)."""
        deadline = time.monotonic() + timeout
        chunks = []
        with os.fdopen(self.stdout, "rb", buffering=0) as pipe:
            while chunk := _read_within(pipe, deadline):
                chunks.append(chunk)
        code = self.process.wait(max(0.0, deadline - time.monotonic()))
        self.stderr.seek(0)  # type: ignore[attr-defined]
        text = b"".join(chunks)[self.filler :].decode(errors="replace") + self.stderr.read()  # type: ignore[attr-defined]
        self.stderr.close()  # type: ignore[attr-defined]
        return code, text


def _read_within(pipe, deadline: float) -> bytes:
    ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
    if not ready:
        raise AssertionError("the held command did not exit in time")
    return pipe.read(65536)


def _start_held(cli, tmp_path, name: str, *args: str) -> Held:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    filler = 0
    for size in (4096, 1):  # whole pages, then byte by byte: not one byte of room left
        with contextlib.suppress(BlockingIOError):
            while True:
                filler += os.write(write_end, b"." * size)
    os.set_blocking(write_end, True)  # the command's writes block
    stderr = open(tmp_path / f"{name}.err", "w+")  # noqa: SIM115 - closed by release
    process = _background(cli, args, write_end, stderr)
    os.close(write_end)  # the command's copy is the only one: its exit is the pipe's end
    return Held(process, read_end, stderr, filler)


def _operator(cli, tmp_path, who: str, stack: str) -> list[str]:
    """An operator on another machine: own state dir, the embedded AWS as an AWS endpoint."""
    return [
        "--stack", stack, "--target", "aws", "--endpoint-url", cli.endpoint,
        "--state-dir", str(tmp_path / who), "--state-url", f"s3://{BUCKET}/team",
    ]  # fmt: skip


def _census(cli, stack: str) -> dict[str, int]:
    apigw, lam = cli.client("apigateway"), cli.client("lambda")
    functions = [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith(f"{stack}-")]
    return {
        "rest_apis": len([a for a in apigw.get_rest_apis()["items"] if a["name"] == f"{stack}-api"]),
        "api_keys": len([k for k in apigw.get_api_keys()["items"] if k["name"] == f"{stack}-key"]),
        "usage_plans": len([p for p in apigw.get_usage_plans()["items"] if p["name"] == f"{stack}-plan"]),
        "functions": len(functions),
        "queues": len(cli.client("sqs").list_queues(QueueNamePrefix=f"{stack}-").get("QueueUrls", [])),
    }


WHOLE = {"rest_apis": 1, "api_keys": 1, "usage_plans": 1, "functions": 3, "queues": 3}
GONE = dict.fromkeys(WHOLE, 0)
LOCK_LINE = re.compile(r"error: the state at \S+ is locked by .+ pid \d+ .*orderpoc state unlock \S+")


def test_two_operators_racing_up_make_one_stack(cli, bucket, tmp_path):
    runs = [_start(cli, tmp_path, who, "up", *_operator(cli, tmp_path, who, "duo")) for who in ("alice", "bob")]
    outcomes = [_finish(*run) for run in runs]
    for code, text in outcomes:
        assert code == 0 or (code == 2 and LOCK_LINE.search(text)), text
    assert _census(cli, "duo") == WHOLE  # one API key, never two
    cli.run("down", *_operator(cli, tmp_path, "alice", "duo"), "--yes", env=CREDENTIALS)
    assert _census(cli, "duo") == GONE


def test_down_racing_up_leaves_the_stack_whole_or_gone(cli, bucket, tmp_path):
    cli.run("up", *_operator(cli, tmp_path, "alice", "race"), env=CREDENTIALS)
    runs = [
        _start(cli, tmp_path, "bob", "down", "--yes", *_operator(cli, tmp_path, "bob", "race")),
        _start(cli, tmp_path, "carol", "up", *_operator(cli, tmp_path, "carol", "race")),
    ]
    outcomes = [_finish(*run) for run in runs]
    for code, text in outcomes:
        assert code == 0 or (code == 2 and LOCK_LINE.search(text)), text
    assert _census(cli, "race") in (WHOLE, GONE)
    cli.run("down", *_operator(cli, tmp_path, "alice", "race"), "--yes", env=CREDENTIALS)


def _lock_taken(cli, key: str, timeout: float = 120) -> None:
    s3 = cli.client("s3")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s3.head_object(Bucket=BUCKET, Key=key)
            return
        except botocore.exceptions.ClientError:
            time.sleep(0.05)
    raise AssertionError(f"{key} was never locked")


def _lock_exists(cli, key: str) -> bool:
    try:
        cli.client("s3").head_object(Bucket=BUCKET, Key=key)
        return True
    except botocore.exceptions.ClientError:
        return False


def test_a_killed_command_leaves_its_lock_sigterm_and_ctrl_c_release_it(cli, bucket, tmp_path):
    flags = ["--stack", "solo", "--state-url", f"s3://{BUCKET}/team"]
    key = "team/solo.local.json.lock"

    held = _start_held(cli, tmp_path, "killed", "up", *flags)
    _lock_taken(cli, key)
    held.process.kill()  # SIGKILL: no chance to clean up
    held.release()
    process = held.process
    blocked = cli.run("up", *flags, "--lock-timeout", "0", check=False)
    assert blocked.returncode == 2
    line = blocked.stderr.strip()
    assert len(line.splitlines()) == 1 and LOCK_LINE.match(line), line
    assert f"pid {process.pid} " in line and "no longer running on this host" in line
    lock_id = json.loads(cli.run("state", "show", *flags, "--json").stdout)["lock"]["id"]
    assert f"orderpoc state unlock {lock_id} --stack solo --state-url s3://{BUCKET}/team" in line
    assert cli.run("state", "unlock", lock_id, *flags).returncode == 0
    assert not _lock_exists(cli, key)

    for sig in (signal.SIGTERM, signal.SIGINT):
        held = _start_held(cli, tmp_path, sig.name, "up", *flags)
        _lock_taken(cli, key)
        assert held.process.poll() is None  # held: still running, the lock still its own
        held.process.send_signal(sig)
        code, text = held.release()
        assert code == 130, text
        assert not _lock_exists(cli, key), f"{sig.name} left the lock"
    cli.run("down", *flags)


def test_state_migrate_to_s3_and_back_leaves_the_stack_as_it_is(cli, bucket, tmp_path):
    stack = ["--stack", "mig"]
    s3 = ["--state-url", f"s3://{BUCKET}/team"]
    cli.run("up", *stack)
    state_file = cli.cwd / "state" / "mig.local.json"
    before = json.loads(state_file.read_text())
    moved = cli.run("state", "migrate", *stack, "--to", f"s3://{BUCKET}/team").stdout
    assert "moved serial" in moved and not state_file.exists()
    shown = json.loads(cli.run("state", "show", *stack, *s3, "--json").stdout)
    assert shown["serial"] == before["serial"] and shown["state"]["resources"] == before["resources"]
    assert set(cli.json("up", *stack, *s3)["actions"].values()) == {"unchanged"}
    cli.run("state", "migrate", *stack, *s3, "--to", "file")
    assert json.loads(state_file.read_text()) == before
    cli.run("state", "push", *stack, *s3)  # nothing at S3 now: push copies...
    again = cli.run("state", "push", *stack, *s3).stdout  # ...and pushing the same state is a no-op
    assert "nothing to copy" in again
    assert set(cli.json("up", *stack)["actions"].values()) == {"unchanged"}
    cli.run("down", *stack)


def test_a_missing_state_bucket_is_one_line_exit_2(cli):
    result = cli.run("up", "--stack", "nob", "--state-url", "s3://no-such-bucket/team", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: the state bucket no-such-bucket does not exist: create it with "
        "`orderpoc state init-bucket s3://no-such-bucket` (same --target/--endpoint-url)"
    ]
    listed = cli.client("lambda").list_functions()["Functions"]
    assert not [f for f in listed if f["FunctionName"].startswith("nob-")]  # nothing was touched
