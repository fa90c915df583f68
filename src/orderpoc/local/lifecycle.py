"""Client side of the embedded AWS: start it detached, find it, stop it (with every worker).

Cheap to import (no moto, no boto3): the CLI calls these on every local command.
Files, under `state_dir/local/`: `server-{port}.pid` (JSON: pid, port, log file),
`server-{port}.log` (the emulator's own log: stdout/stderr of the server and its workers) and
`server-{port}.lock` (flock'd while a command starts or stops that server).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderpoc.errors import UserError
from orderpoc.local import procs
from orderpoc.state import ensure_private_dir
from orderpoc.state_store import flock_within

HOST = "127.0.0.1"
HEALTH_PATH = "/_orderpoc/health"
SERVICE = "orderpoc-local"
EXIT_PORT_IN_USE = 3  # server.py's exit code when it cannot bind
# glibc gives a threaded process up to 8 malloc arenas per core, and freed memory stays in them:
# the server's idle RSS after warm-up was 163 MB with the default, 143 MB with two arenas, at the
# same CPU per order. The caller's environment still wins.
SERVER_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2"}
_children: dict[int, subprocess.Popen[bytes]] = {}  # servers this process started: we reap them


@dataclass(frozen=True)
class LocalStatus:
    running: bool
    pid: int | None
    port: int
    endpoint: str
    boot_id: str | None
    started_at: str | None
    log_file: Path


def local_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "local"


def _private_dirs(state_dir: Path) -> None:
    ensure_private_dir(state_dir)
    ensure_private_dir(local_dir(state_dir))


def pid_file(state_dir: Path, port: int) -> Path:
    return local_dir(state_dir) / f"server-{port}.pid"


def log_file(state_dir: Path, port: int) -> Path:
    return local_dir(state_dir) / f"server-{port}.log"


@contextlib.contextmanager
def _start_lock(state_dir: Path, port: int, *, timeout: float) -> Iterator[None]:
    """One command at a time starts or stops the server of a state dir and port (flock: released
    when the holder exits, however it exits)."""
    _private_dirs(state_dir)
    path = local_dir(state_dir) / f"server-{port}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UserError(
            f"cannot write {path} ({exc.strerror or exc}): fix the state dir's permissions or use another --state-dir"
        ) from None
    try:
        if not flock_within(fd, timeout, poll=0.05):
            raise UserError(
                f"another orderpoc command has been starting the local AWS on port {port} "
                f"for {timeout:.0f}s; see {log_file(state_dir, port)}"
            )
        yield
    finally:
        os.close(fd)


def status(state_dir: Path, port: int) -> LocalStatus:
    pid = _recorded_pid(state_dir, port)
    health = _health(port, timeout=5.0) if pid and _alive(pid) else None
    if health is not None and health.get("pid") == pid:
        return _status(state_dir, port, health)
    return LocalStatus(False, None, port, _endpoint(port), None, None, log_file(state_dir, port))


def running_pid(state_dir: Path, port: int) -> int | None:
    """The recorded server's pid while it runs (whether it answers or is busy)."""
    pid = _recorded_pid(state_dir, port)
    return pid if pid and _alive(pid) and _is_our_server(pid, port) else None


def still_running(state_dir: Path, port: int, pid: int) -> bool:
    """Whether the server with this pid still runs as the recorded one: the pid file and the
    process table alone, no request (cheap enough to ask ten times a second, and busy is not gone)."""
    return _recorded_pid(state_dir, port) == pid and _alive(pid)


def start(state_dir: Path, port: int, *, wait: float = 30) -> LocalStatus:
    """Start the emulator on 127.0.0.1:port unless ours already runs there; wait until healthy.

    Commands may cold-start at the same moment (`orderpoc up --stack a & orderpoc up --stack b`):
    one starts the server under the start lock, the others wait for the lock and find it running.
    """
    current = status(state_dir, port)
    if current.running:
        return current
    with _start_lock(state_dir, port, timeout=wait + procs.STOP_GRACE + procs.KILL_GRACE):
        return _start_locked(state_dir, port, wait)


def _start_locked(state_dir: Path, port: int, wait: float) -> LocalStatus:
    pid = running_pid(state_dir, port)
    if pid is not None:
        # Ours and alive: started by a command that held the lock before us, or busy. Its
        # resources live in its memory, so it is never killed here: wait for it to answer.
        return _await_health(state_dir, port, pid, wait, started=False)
    pid_file(state_dir, port).unlink(missing_ok=True)  # a recorded server that is gone
    if not _port_free(port):
        return _adopt_or_refuse(state_dir, port)
    directory = local_dir(state_dir)
    # The log holds what functions print: owner-only, like the state file.
    log_fd = os.open(log_file(state_dir, port), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    ready_read, ready_write = os.pipe()  # the server writes "ready" on it once it answers
    with os.fdopen(log_fd, "ab") as log, os.fdopen(ready_read, "rb", buffering=0) as ready:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orderpoc.local.server",
                "--port",
                str(port),
                "--state-dir",
                str(Path(state_dir).resolve()),
                "--ready-fd",
                str(ready_write),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(directory),  # not the user's folder: `-m` puts the cwd on sys.path
            env={**SERVER_ENVIRONMENT, **os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # survives the command that started it; own process group
            close_fds=True,  # the start lock's descriptor stays here
            pass_fds=(ready_write,),
        )
        os.close(ready_write)  # the server holds the only write end: its exit ends our read
        _children[proc.pid] = proc
        _write_pid_file(state_dir, port, proc.pid)
        if _exited_before_ready(ready, time.monotonic() + wait):
            # its pipe closed as it exits: reap it, or the health check below could find it still
            # alive and wait out its timeout on whatever holds the port
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=procs.KILL_GRACE)
    return _await_health(state_dir, port, proc.pid, wait, started=True)


def _exited_before_ready(ready: Any, deadline: float) -> bool:
    """Wait until the server says it is ready (False), exits: end of file (True), or the deadline
    (False): no health requests while it imports, so a port another program holds is told from a
    slow start at once."""
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([ready], [], [], left)[0]:
            return False
        line = ready.read(64)
        if not line:
            return True
        if b"ready" in line:
            return False
    return False


def _await_health(state_dir: Path, port: int, pid: int, wait: float, *, started: bool) -> LocalStatus:
    """Wait until the server with this pid answers its health check."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not _alive(pid):
            code = _children[pid].returncode if pid in _children else None
            pid_file(state_dir, port).unlink(missing_ok=True)
            if code == EXIT_PORT_IN_USE or not _port_free(port):
                # Taken between our check and its bind: say by whom (or adopt ours).
                return _adopt_or_refuse(state_dir, port)
            how = f" (code {code})" if code is not None else ""
            raise UserError(f"the local AWS exited while starting{how}; see {log_file(state_dir, port)}")
        health = _health(port, timeout=min(5.0, max(0.1, deadline - time.monotonic())))
        if health is not None and health.get("pid") == pid:
            return _status(state_dir, port, health)
        time.sleep(0.05)
    if started:
        _stop_locked(state_dir, port)
        raise UserError(f"the local AWS did not become healthy within {wait:.0f}s; see {log_file(state_dir, port)}")
    raise UserError(
        f"the local AWS (pid {pid}) runs but does not answer; see {log_file(state_dir, port)}; "
        "`orderpoc local stop` stops it (its resources are lost)"
    )


def may_be_running(state_dir: Path, port: int) -> bool:
    """Ours runs, or something holds the port (ensure_running adopts ours or refuses another)."""
    return running_pid(state_dir, port) is not None or not _port_free(port)


def ensure_running(state_dir: Path, port: int) -> LocalStatus:
    return start(state_dir, port)


def stop(state_dir: Path, port: int) -> bool:
    """Terminate the server and its workers (one process group), wait, remove the pid file."""
    if _read_pid_file(state_dir, port) is None:
        return False
    with _start_lock(state_dir, port, timeout=60):  # not while another command starts it
        return _stop_locked(state_dir, port)


def _stop_locked(state_dir: Path, port: int) -> bool:
    pid = _recorded_pid(state_dir, port)
    running = pid is not None and _alive(pid) and _is_our_server(pid, port)
    if running and pid is not None:
        _terminate_group(pid)
    pid_file(state_dir, port).unlink(missing_ok=True)
    return running


# -- internals ------------------------------------------------------------------------------------


def _endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def _in_use(port: int) -> str:
    return f"port {port} is in use by another program; set ORDERPOC_LOCAL_PORT to a free port"


def _status(state_dir: Path, port: int, health: dict[str, Any]) -> LocalStatus:
    return LocalStatus(
        True,
        health.get("pid"),
        port,
        _endpoint(port),
        health.get("boot_id"),
        health.get("started_at"),
        log_file(state_dir, port),
    )


def _adopt_or_refuse(state_dir: Path, port: int) -> LocalStatus:
    """The port is taken: ours for this state dir (pid file lost) is adopted, anything else refused."""
    health = _health(port, timeout=1.0)  # ours answers in milliseconds
    if health is None:
        raise UserError(_in_use(port))
    if health.get("state_dir") != str(Path(state_dir).resolve()):
        raise UserError(
            f"port {port} is used by the orderpoc local AWS of state dir {health.get('state_dir')}: "
            f"run from that folder or pass --state-dir {health.get('state_dir')}; "
            "or set ORDERPOC_LOCAL_PORT to a free port for a second one"
        )
    _private_dirs(state_dir)
    _write_pid_file(state_dir, port, int(health["pid"]))
    return _status(state_dir, port, health)


def _health(port: int, timeout: float) -> dict[str, Any] | None:
    """Our server's health document, or None (nothing there, or something that is not us)."""
    try:
        with urllib.request.urlopen(_endpoint(port) + HEALTH_PATH, timeout=timeout) as response:
            body = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body if isinstance(body, dict) and body.get("service") == SERVICE else None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _read_pid_file(state_dir: Path, port: int) -> dict[str, Any] | None:
    try:
        data = json.loads(pid_file(state_dir, port).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None


def _recorded_pid(state_dir: Path, port: int) -> int | None:
    recorded = _read_pid_file(state_dir, port)
    return int(recorded["pid"]) if recorded else None


def _write_pid_file(state_dir: Path, port: int, pid: int) -> None:
    path = pid_file(state_dir, port)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner-only under any umask
    with os.fdopen(fd, "w") as out:
        os.fchmod(fd, 0o600)  # a tmp file left by a killed start keeps its mode otherwise
        out.write(json.dumps({"pid": pid, "port": port, "log_file": str(log_file(state_dir, port))}))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:  # ours: poll() also reaps it, so it does not linger as a zombie
        return child.poll() is None
    return procs.alive(pid)


def _is_our_server(pid: int, port: int) -> bool:
    """Never signal a recycled pid: the process must be our server for that port."""
    ours = procs.cmdline_has(pid, b"orderpoc.local.server", str(port).encode())
    if ours is None:  # no /proc: ask the server itself
        health = _health(port, timeout=2.0)
        return health is not None and health.get("pid") == pid
    return ours


def _terminate_group(pid: int) -> None:
    procs.terminate_group(pid, alive=_alive)
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)
