"""Starting, finding and stopping the embedded AWS; nothing may be left running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from local_helpers import Emulator, assert_all_gone, free_port, health, wait_for

from orderpoc.errors import UserError
from orderpoc.local import lifecycle, procs

PID = "import os\ndef handler(event, context):\n    return os.getpid()\n"
SLEEPER = """
import os, time
def handler(event, context):
    with open(os.environ["OUT"], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(60)
"""


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _emulator(state_dir: Path, port: int) -> Emulator:
    return Emulator(state_dir, port, lifecycle.status(state_dir, port))


def test_start_is_idempotent_and_status_describes_the_server(state_dir: Path) -> None:
    port = free_port()
    assert lifecycle.status(state_dir, port).running is False
    first = lifecycle.start(state_dir, port)
    try:
        again = lifecycle.ensure_running(state_dir, port)
        assert (again.pid, again.boot_id) == (first.pid, first.boot_id)
        status = lifecycle.status(state_dir, port)
        assert status.running and status.endpoint == f"http://127.0.0.1:{port}"
        assert status.pid == first.pid and status.started_at and status.log_file.exists()
        assert status.log_file.parent == state_dir / "local"
        info = health(_emulator(state_dir, port))
        assert (info["boot_id"], info["pid"]) == (first.boot_id, first.pid)
        recorded = json.loads(lifecycle.pid_file(state_dir, port).read_text())
        assert recorded["pid"] == first.pid
        assert os.getpgid(first.pid) != os.getpgid(0)  # detached: its own session and group
    finally:
        assert lifecycle.stop(state_dir, port) is True
    assert_all_gone(first.pid)
    assert not lifecycle.pid_file(state_dir, port).exists()
    assert lifecycle.stop(state_dir, port) is False


def test_stop_then_start_gives_a_fresh_emulator_and_kills_the_workers(state_dir: Path) -> None:
    port = free_port()
    first = lifecycle.start(state_dir, port)
    emulator = _emulator(state_dir, port)
    emulator.function("pid", PID)
    worker = emulator.invoke("pid")[1]
    assert lifecycle.stop(state_dir, port) is True
    assert_all_gone(first.pid)
    assert not procs.alive(worker)
    second = lifecycle.start(state_dir, port)
    try:
        assert second.boot_id != first.boot_id and second.pid != first.pid
        fresh = _emulator(state_dir, port)
        assert fresh.client("lambda").list_functions()["Functions"] == []  # state is in memory
    finally:
        lifecycle.stop(state_dir, port)
    assert_all_gone(second.pid)


def test_sigterm_shuts_the_server_down_cleanly_with_its_workers(state_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    status = lifecycle.start(state_dir, port)
    try:
        emulator = _emulator(state_dir, port)
        emulator.function("pid", PID)
        idle = emulator.invoke("pid")[1]
        busy_file = tmp_path / "busy.pid"
        emulator.function("sleeper", SLEEPER, timeout=60, env={"OUT": str(busy_file)})
        emulator.client("lambda").invoke(FunctionName="sleeper", InvocationType="Event", Payload=b"{}")
        busy = int(wait_for(lambda: busy_file.exists() and busy_file.read_text(), what="the busy worker"))
        assert status.pid is not None
        os.kill(status.pid, signal.SIGTERM)  # the server alone, not its group
        wait_for(lambda: not procs.alive(status.pid), what="the server to exit")
        for worker in (idle, busy):
            wait_for(lambda worker=worker: not procs.alive(worker), what=f"worker {worker} to be killed")
        assert "stopped" in status.log_file.read_text()
    finally:
        lifecycle.stop(state_dir, port)


def test_a_port_held_by_another_program_is_a_user_error(state_dir: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} is in use by another program; set ORDERPOC_LOCAL_PORT"):
            lifecycle.start(state_dir, port)
    assert not lifecycle.pid_file(state_dir, port).exists()


def test_a_port_held_by_another_state_dirs_emulator_is_refused(state_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    other = lifecycle.start(tmp_path / "other", port)
    try:
        with pytest.raises(UserError, match="used by the orderpoc local AWS of state dir .*--state-dir"):
            lifecycle.start(state_dir, port)
        lifecycle.pid_file(tmp_path / "other", port).unlink()  # lost pid file: adopted, not restarted
        adopted = lifecycle.start(tmp_path / "other", port)
        assert adopted.boot_id == other.boot_id
    finally:
        lifecycle.stop(tmp_path / "other", port)
    assert other.pid is not None
    assert_all_gone(other.pid)


RACER = """
import json, sys
from pathlib import Path
from orderpoc.errors import UserError
from orderpoc.local import lifecycle
sys.stdin.readline()  # every racer is ready: go
try:
    status = lifecycle.start(Path(sys.argv[1]), int(sys.argv[2]))
except UserError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"pid": status.pid, "boot_id": status.boot_id}))
"""


def _servers_on(port: int) -> list[int]:
    """Every live emulator process for that port on this machine."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and procs.alive(int(entry.name))
        and procs.cmdline_has(int(entry.name), b"orderpoc.local.server", str(port).encode())
    ]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts servers through /proc")
def test_racing_cold_starts_share_one_server(state_dir: Path) -> None:
    """Commands that cold-start the emulator at the same moment all get the same, single server."""
    port = free_port()
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(state_dir), str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for racer in racers:  # released together, once all are up: they race the cold start
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        answers = [json.loads(racer.communicate(timeout=120)[0]) for racer in racers]
        assert [a.get("error") for a in answers] == [None] * 4
        assert len({(a["pid"], a["boot_id"]) for a in answers}) == 1
        assert _servers_on(port) == [answers[0]["pid"]]
    finally:
        for racer in racers:
            racer.kill()
        lifecycle.stop(state_dir, port)
    for pid in _servers_on(port):
        os.kill(pid, signal.SIGKILL)
    assert _servers_on(port) == []


def test_a_port_taken_between_the_check_and_the_bind_is_a_user_error(state_dir: Path, monkeypatch) -> None:
    """Another program binds the port after the free-port check: the server dies on its own bind."""
    real_port_free = lifecycle._port_free
    checks: list[int] = []

    def free_at_first_check(port: int) -> bool:
        checks.append(port)
        return True if len(checks) == 1 else real_port_free(port)

    monkeypatch.setattr(lifecycle, "_port_free", free_at_first_check)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(UserError) as error:
            lifecycle.start(state_dir, port)
    assert str(error.value) == f"port {port} is in use by another program; set ORDERPOC_LOCAL_PORT to a free port"
    assert not lifecycle.pid_file(state_dir, port).exists()


def test_an_unwritable_local_dir_is_a_user_error(state_dir: Path, monkeypatch) -> None:
    real_open = os.open

    def refuse_locks(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_locks)
    with pytest.raises(UserError, match=r"cannot write .*server-\d+\.lock \(Permission denied\)"):
        lifecycle.start(state_dir, free_port())


def test_still_running_tells_a_killed_server_from_a_busy_one(state_dir: Path) -> None:
    port = free_port()
    started = lifecycle.start(state_dir, port)
    try:
        pid = lifecycle.running_pid(state_dir, port)
        assert pid == started.pid and pid is not None
        os.kill(pid, signal.SIGSTOP)  # busy: answers nothing, but runs
        try:
            assert lifecycle.still_running(state_dir, port, pid) is True
        finally:
            os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)  # `kill -9`: this process started it, so it lingers as a zombie
        wait_for(lambda: not lifecycle.still_running(state_dir, port, pid), what="the kill to be seen")
        assert lifecycle.running_pid(state_dir, port) is None
    finally:
        lifecycle.stop(state_dir, port)
