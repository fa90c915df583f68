"""The embedded AWS killed (-9) under a load run: the figures so far, what happened, exit 1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from orderpoc.cli.output import validate

pytestmark = pytest.mark.e2e

LOAD = ["send-test-order", "--count", "300", "--concurrency", "8", "--rate", "20", "--timeout", "120"]


def _stored(cli) -> int:
    try:
        return int(cli.client("dynamodb").scan(TableName="solo-orders", Select="COUNT")["Count"])
    except Exception:  # not there yet
        return 0


def _kill_the_local_aws_mid_run(cli, *extra: str) -> subprocess.CompletedProcess[str]:
    pid = json.loads(cli.run("local", "status", "--json").stdout)["pid"]
    run = subprocess.Popen(
        [sys.executable, "-m", "orderpoc", *LOAD, *extra],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while _stored(cli) < 20:  # well into the run, far from its end
        assert run.poll() is None and time.monotonic() < deadline, "the load run never got going"
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)  # the server alone, as `kill -9 PID` does
    out, err = run.communicate(timeout=120)
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def test_a_load_run_whose_local_aws_is_killed_shows_its_figures_and_says_so(own_cli):
    own_cli.run("up")
    result = _kill_the_local_aws_mid_run(own_cli)
    assert result.returncode == 1, result.stderr
    both = result.stdout + result.stderr
    assert "EndpointConnectionError" not in both and "Traceback" not in both
    assert "300 orders, concurrency 8" in result.stdout  # the figures gathered so far
    accepted = int(re.search(r"accepted\D+(\d+)", result.stdout).group(1))
    # some figures gathered, not all: the client's tally can trail the table's rows at the kill
    assert 0 < accepted < 300
    assert "the local AWS stopped during the run" in result.stdout
    assert "its resources are gone: `orderpoc up` rebuilds them" in result.stdout

    rebuilt = own_cli.json("up")  # as it says
    assert set(rebuilt["actions"].values()) == {"create"}
    result = _kill_the_local_aws_mid_run(own_cli, "--json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    validate("send-test-order", document)
    assert document["ok"] is False and "the local AWS stopped" in document["aborted"]
    # partial and consistent. The client's tally of rows can trail the table's at the kill, to none
    # on a loaded machine (its table poller may not have asked since the rows came); not so its
    # tally of answers: 20 rows mean 20 orders sent by 8 senders, so at least 12 answers were read.
    assert 0 <= document["stored"] <= document["accepted"] and 0 < document["accepted"] < 300


def test_logs_follow_whose_local_aws_is_killed_says_so(own_cli):
    own_cli.run("up")
    own_cli.run("send-test-order")  # lines to print: the follower prints them once it follows
    pid = json.loads(own_cli.run("local", "status", "--json").stdout)["pid"]
    follower = subprocess.Popen(
        [sys.executable, "-m", "orderpoc", "logs", "--follow", "--since", "10m"],
        cwd=own_cli.cwd,
        env=own_cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None and follower.stdout.readline()  # it follows
        os.kill(pid, signal.SIGKILL)
        _, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 2, err
    assert "the local AWS stopped while following the logs" in err and "Traceback" not in err
