"""Helpers for the embedded-AWS tests (test_local_*.py); their `emulator` fixture is in conftest.py."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3

from orderpoc.local import lifecycle, procs

T = TypeVar("T")
REGION = "us-east-1"
ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll until `condition()` is truthy (and return it), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


@dataclass
class Emulator:
    state_dir: Path
    port: int
    status: lifecycle.LocalStatus
    _clients: dict[str, Any] = field(default_factory=dict)
    _role: str | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.session.Session().client(
                service,
                region_name=REGION,
                endpoint_url=self.status.endpoint,
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
        return self._clients[service]

    def role(self) -> str:
        if self._role is None:
            self._role = self.client("iam").create_role(RoleName="local-test-role", AssumeRolePolicyDocument=TRUST)[
                "Role"
            ]["Arn"]
        return self._role

    def function(
        self,
        name: str,
        source: str,
        *,
        timeout: int = 3,
        env: dict[str, str] | None = None,
        handler: str = "app.handler",
        log_group: bool = True,
    ) -> str:
        """Create a Python function from one module's source (and, as `up` does, its log group);
        returns its ARN."""
        if log_group:
            logs = self.client("logs")
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
        return self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=self.role(),
            Handler=handler,
            Code={"ZipFile": make_zip({"app.py": source})},
            Timeout=timeout,
            Environment={"Variables": env or {}},
        )["FunctionArn"]

    def invoke(self, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        response = self.client("lambda").invoke(
            FunctionName=name, Payload=json.dumps(payload if payload is not None else {}), **kwargs
        )
        body = response["Payload"].read()
        return response, json.loads(body) if body else None

    def log_messages(self, function: str) -> list[str]:
        logs = self.client("logs")
        group = f"/aws/lambda/{function}"
        try:
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        messages: list[str] = []
        for stream in streams:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])
            messages.extend(e["message"] for e in events["events"])
        return messages

    def queue(self, name: str, **attributes: str) -> tuple[str, str]:
        """(url, arn) of a new queue."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def drain(self, url: str, wait: int = 0) -> list[dict[str, Any]]:
        messages = (
            self.client("sqs")
            .receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, AttributeNames=["All"])
            .get("Messages", [])
        )
        return messages


def health(emulator: Emulator) -> dict[str, Any]:
    with urllib.request.urlopen(emulator.status.endpoint + "/_orderpoc/health", timeout=5) as response:
        return dict(json.loads(response.read()))


RECORDER = """
import json, os
def record(event, **extra):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"event": event, **extra}) + "\\n")
"""


def recorded(path: Path) -> list[dict[str, Any]]:
    """What a RECORDER-based function wrote, one entry per invocation."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def assert_all_gone(pid: int) -> None:
    """The server and everything in its process group (the workers) have exited."""
    assert not procs.alive(pid), f"server {pid} still running"
    assert procs.group_members(pid) == [], "worker processes left behind"
