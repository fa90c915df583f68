"""End-to-end fixtures: the real CLI in a subprocess against the embedded AWS on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from orderpoc.cli.output import validate


def schema_name(args: tuple[str, ...]) -> str:
    """`local status --stack x` -> "local-status": the command words before the first option."""
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return "-".join(words)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cli:
    env: dict[str, str]
    cwd: Path

    def run(
        self, *args: str, check: bool = True, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "orderpoc", *args],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"orderpoc {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args: str, check: bool = True) -> dict:
        """The command's --json document, held to its schema (orderpoc/schemas): the contract test
        runs on every command's real output that any e2e test reads."""
        document = json.loads(self.run(*args, "--json", check=check).stdout)
        validate(schema_name(args), document)
        return document

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.env['ORDERPOC_LOCAL_PORT']}"

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def _cli_in(workdir: Path, stack: str) -> Cli:
    """A CLI with its own emulator port and state dir; no real AWS setting leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORDERPOC_"))}
    env.update(
        ORDERPOC_LOCAL_PORT=str(free_port()),
        ORDERPOC_STATE_DIR=str(workdir / "state"),
        ORDERPOC_STACK=stack,
        COLUMNS="200",
        # no real AWS credentials may leak in, and no instance-metadata lookups on this box
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(workdir / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "none"),
    )
    return Cli(env, workdir)


def _stop(runner: Cli) -> None:
    runner.run("local", "stop", check=False)
    pid_files = list((runner.cwd / "state" / "local").glob("*.pid"))
    assert pid_files == [], f"pid files left behind: {pid_files}"


@pytest.fixture(scope="session")
def cli(tmp_path_factory) -> Iterator[Cli]:
    """One emulator for the e2e session; stopped at the end, and nothing may be left running."""
    runner = _cli_in(tmp_path_factory.mktemp("e2e"), "e2e")
    try:
        yield runner
    finally:
        _stop(runner)


@pytest.fixture
def own_cli(tmp_path) -> Iterator[Cli]:
    """A CLI whose emulator is not started yet and is this test's alone (to race, kill or break)."""
    runner = _cli_in(tmp_path, "solo")
    try:
        yield runner
    finally:
        _stop(runner)


@pytest.fixture(scope="module")
def deployed(cli: Cli) -> dict:
    """`orderpoc up` once per module for the tests that only need a running stack: per module, as
    a module that ran before on the same worker may have restarted the emulator or taken the stack
    down (test_pipeline ends so), and a rerun of up on a standing stack changes nothing."""
    return cli.json("up")
