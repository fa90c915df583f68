"""The embedded AWS under commands that race its start, and a port someone else holds."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_two_ups_that_cold_start_the_local_aws_share_one_server(own_cli):
    """`orderpoc up --stack a & orderpoc up --stack b`: both succeed, against one server."""
    ups = [
        subprocess.Popen(
            [sys.executable, "-m", "orderpoc", "up", "--stack", stack, "--json"],
            cwd=own_cli.cwd,
            env=own_cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stack in ("race-a", "race-b")
    ]
    outputs = [up.communicate(timeout=300) for up in ups]
    for up, (out, err) in zip(ups, outputs, strict=True):
        assert up.returncode == 0, err
        assert set(json.loads(out)["actions"].values()) == {"create"}
    local = json.loads(own_cli.run("local", "status", "--json").stdout)
    assert local["running"] is True
    boots = {
        json.loads((own_cli.cwd / "state" / f"{s}.local.json").read_text())["local_boot_id"]
        for s in ("race-a", "race-b")
    }
    assert boots == {local["boot_id"]}  # one server holds both stacks
    for stack in ("race-a", "race-b"):
        assert own_cli.json("status", "--stack", stack)["healthy"] is True


def test_a_port_held_by_another_program_is_one_line_and_exit_2(own_cli):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(own_cli.env["ORDERPOC_LOCAL_PORT"])))
        holder.listen()
        for args in (["local", "start"], ["up"]):
            result = own_cli.run(*args, check=False)
            assert result.returncode == 2, result.stderr
            assert result.stderr.strip().splitlines() == [
                f"error: port {own_cli.env['ORDERPOC_LOCAL_PORT']} is in use by another program; "
                "set ORDERPOC_LOCAL_PORT to a free port"
            ]


def test_a_command_that_only_reads_or_is_refused_starts_no_local_aws(own_cli):
    """Nothing runs after them: a read finds nothing deployed, a mismatched state is refused first."""
    from orderpoc.state import State

    for args in (["outputs"], ["status"], ["logs"], ["send-test-order"]):
        result = own_cli.run(*args, check=False)
        assert result.returncode == 2, result.stderr
        assert "the local AWS is not running" in result.stderr and "Traceback" not in result.stderr
    state_file = own_cli.cwd / "state" / "solo.local.json"
    identity = {"target": "local", "account": "123456789012", "region": "us-east-1"}
    State(state_file).set_identity(stack="solo", endpoint="http://127.0.0.1:9", **identity)
    refused = own_cli.run("up", check=False)
    assert refused.returncode == 2 and "belongs to endpoint 'http://127.0.0.1:9'" in refused.stderr
    # another stack's state under this stack's name (copied): down would delete that stack's resources
    State.load(state_file).set_identity(stack="other", endpoint=own_cli.endpoint)
    refused = own_cli.run("down", "--yes", check=False)
    assert refused.returncode == 2 and "is the state of stack 'other', not 'solo'" in refused.stderr
    assert json.loads(own_cli.run("local", "status", "--json", check=False).stdout)["running"] is False
