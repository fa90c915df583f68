"""The server's handle on one worker process (which runs function_host.py): environment, spawn,
call with a deadline, kill."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WORKER_SCRIPT = str(Path(__file__).with_name("function_host.py"))
INIT_TIMEOUT = 10.0  # Lambda's init phase limit


class WorkerTimeout(Exception):
    """The call ran past its deadline; the worker has been killed."""


class WorkerDied(Exception):
    """The worker exited (sys.exit, crash, OOM) before answering."""

    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"Runtime exited with error: exit status {returncode}")
        self.returncode = returncode


def new_log_stream(version: str) -> str:
    today = datetime.now(UTC)
    return f"{today:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def environment(config: dict[str, Any], code_dir: Path, stream: str, endpoint: str, home: Path) -> dict[str, str]:
    """A worker's environment: the function's variables, then Lambda's reserved ones (they win)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": ":UTC"}
    env.update({str(k): str(v) for k, v in config["env"].items()})
    env.update(
        {
            "HOME": str(home),
            "AWS_ENDPOINT_URL": endpoint,  # unmodified boto3 code talks to the emulator
            "AWS_REGION": config["region"],
            "AWS_DEFAULT_REGION": config["region"],
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_CONFIG_FILE": os.devnull,  # never the user's profiles
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": config["name"],
            "AWS_LAMBDA_FUNCTION_VERSION": config["version"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["memory"]),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config['name']}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config['runtime']}",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": config["handler"],
        }
    )
    return env


class Worker:
    """A warm environment. Not thread-safe: its pool hands it to one invocation at a time."""

    def __init__(self, code_dir: Path, handler: str, env: dict[str, str], log_stream: str) -> None:
        self.log_stream = log_stream
        self.invocations = 0
        self.last_used = time.monotonic()
        self.init_ms: float | None = None
        self._buffer = bytearray()
        self._spawned = time.perf_counter()
        # Same process group as the server (no new session): stopping the emulator's group stops
        # every worker too, even one stuck in a handler.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", WORKER_SCRIPT, str(code_dir), handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # stray native output goes to the emulator log
            cwd=str(code_dir),
            env=env,
            close_fds=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._out_fd = self.proc.stdout.fileno()
        self._poll = select.poll()
        self._poll.register(self._out_fd, select.POLLIN | select.POLLHUP)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self) -> dict[str, Any]:
        """The worker's init report: {"ready": bool, "error": dict | None, "logs": str}."""
        try:
            ready = self._read(time.monotonic() + INIT_TIMEOUT)
        except WorkerTimeout:
            ready = {
                "ready": False,
                "logs": "",
                "error": {
                    "errorType": "Runtime.InitTimeout",
                    "errorMessage": f"Init phase took longer than {INIT_TIMEOUT:.0f} seconds",
                    "stackTrace": [],
                },
            }
        except WorkerDied as exc:
            ready = {
                "ready": False,
                "logs": "",
                "error": {"errorType": "Runtime.ExitError", "errorMessage": str(exc), "stackTrace": []},
            }
        self.init_ms = (time.perf_counter() - self._spawned) * 1000  # interpreter start + import
        return ready

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one invocation and wait for its answer, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        self.invocations += 1
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self.proc.wait()) from None
        try:
            return self._read(deadline)
        finally:
            self.last_used = time.monotonic()

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerTimeout()
            if not self._poll.poll(max(int(remaining * 1000), 1)):
                continue
            try:
                chunk = os.read(self._out_fd, 1 << 16)
            except OSError:  # killed and closed under us (shutdown)
                chunk = b""
            if not chunk:
                raise WorkerDied(self.proc.wait())
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return json.loads(line)

    def kill(self) -> None:
        """SIGKILL and reap: a handler may ignore SIGTERM, and Lambda does not ask either."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
