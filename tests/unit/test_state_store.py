"""The state store interface on the local file: compare-and-swap, serial, shape, permissions."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import pytest

from orderpoc.errors import UserError
from orderpoc.state import State
from orderpoc.state_store import FileStore, PermissionNotice, StateConflict

ENTRY = {"kind": "sqs_queue", "name": "q", "outputs": {"arn": "x"}, "config_hash": "h"}


def test_every_write_grows_the_serial_and_is_a_compare_and_swap(tmp_path):
    store = FileStore(tmp_path / "s.json")
    state = State.load(store)
    state.record("queue", ENTRY)
    state.record("dlq", ENTRY)
    assert State.load(store).serial == 2
    rival = State.load(store)
    rival.forget("dlq")  # another command wrote since `state` read
    with pytest.raises(StateConflict, match="changed by another command"):
        state.record("table", ENTRY)
    assert "table" not in State.load(store).resources  # nothing was overwritten
    assert State.load(store).serial == 3


def test_unchanged_identity_writes_nothing(tmp_path):
    state = State.load(FileStore(tmp_path / "s.json"))
    state.set_identity(account="1", region="us-east-1")
    before = state.version
    state.set_identity(account="1", region="us-east-1")
    assert state.version == before and state.serial == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"schema": 1, "resources": []}, "resources is a list"),
        ({"schema": 1, "resources": {"queue": "arn"}}, "resource 'queue' is a str"),
        ({"schema": 1, "resources": {"queue": {"outputs": [1]}}}, "outputs of resource 'queue'"),
        ({"schema": 1, "resources": {}, "serial": "7"}, "serial '7'"),
        ({"schema": 1, "resources": {}, "account": 12}, "account is not a string"),
        ({"schema": 1, "resources": {}, "notify_emails": "a@b.c"}, "notify_emails is not a list of addresses"),
        ({"schema": 1, "resources": {}, "notify_emails": [1]}, "notify_emails is not a list of addresses"),
    ],
)
def test_valid_json_of_the_wrong_shape_is_a_user_error(tmp_path, document, message):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(document))
    path.chmod(0o600)  # as orderpoc writes it (a looser one is tightened, and said)
    with pytest.raises(UserError, match=message):
        State.load(path)


def test_a_shared_folder_as_state_dir_is_warned_about_not_chmod_ed(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    project.chmod(0o755)
    (project / "README.md").write_text("mine")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        State.load(FileStore(project / "s.json")).record("queue", ENTRY)
    assert project.stat().st_mode & 0o777 == 0o755
    assert [str(w.message) for w in caught if w.category is PermissionNotice] == [
        f"state dir {project} is readable by others (mode 0755): chmod 700 it, or use a dedicated --state-dir"
    ]


def test_a_state_file_open_to_others_is_tightened_by_a_read(tmp_path):
    path = tmp_path / "s.json"
    State(path).set_identity(stack="s", region="us-east-1")
    path.chmod(0o644)  # copied in, or chmod-ed by hand
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        State.load(path)  # status and plan only read it
    assert path.stat().st_mode & 0o777 == 0o600
    assert [str(w.message) for w in caught if w.category is PermissionNotice] == [
        f"state file {path} was readable by others (mode 0644); tightened to 0600"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any mode")
def test_read_only_state_dir_is_a_user_error(tmp_path):
    state_dir = tmp_path / "ro"
    state_dir.mkdir(mode=0o500)
    with pytest.raises(UserError, match="not writable"), FileStore(state_dir / "s.json").lock(timeout=0):
        pass


@pytest.mark.filterwarnings("ignore::orderpoc.state_store.PermissionNotice")
def test_a_state_dir_where_the_lock_file_cannot_be_opened_is_a_user_error():
    # /proc/self/fdinfo exists and takes no new files, even for root
    with pytest.raises(UserError, match="is not writable"), FileStore(Path("/proc/self/fdinfo/s.json")).lock(timeout=0):
        pass


def test_unwritable_state_dir_is_a_user_error(tmp_path):
    # Works as root too: a state dir whose path runs through a regular file can never be created.
    (tmp_path / "file").write_text("")
    with (
        pytest.raises(UserError, match="cannot create the state dir"),
        FileStore(tmp_path / "file" / "d" / "s.json").lock(timeout=0),
    ):
        pass


def test_a_state_dir_open_to_others_is_tightened_and_said(tmp_path):
    state_dir = tmp_path / "open"
    state_dir.mkdir()
    state_dir.chmod(0o755)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        State.load(FileStore(state_dir / "s.json")).record("queue", ENTRY)
    assert state_dir.stat().st_mode & 0o777 == 0o700
    assert [str(w.message) for w in caught if w.category is PermissionNotice] == [
        f"state dir {state_dir} was readable by others (mode 0755); tightened to 0700"
    ]


def test_a_killed_holders_record_is_not_a_lock(tmp_path):
    store = FileStore(tmp_path / "s.json")
    with store.lock("up", timeout=0) as info:
        record = store.lock_path.read_bytes()
    store.lock_path.write_bytes(record)  # as a SIGKILLed holder leaves it: the OS dropped its flock
    assert info.id.encode() in record and store.holder() is None
    with pytest.raises(UserError, match="is not locked"):
        store.unlock(info.id)
    with store.lock("up", timeout=0):
        pass


def test_the_lock_records_its_holder_and_clears_it_on_exit(tmp_path):
    store = FileStore(tmp_path / "s.json")
    with store.lock("up", timeout=0) as info:
        holder = store.holder()
        assert holder is not None and holder.id == info.id and holder.pid == os.getpid()
        assert holder.operation == "up"
    assert store.holder() is None


def _main(capsys, *argv: str) -> tuple[int, str]:
    from orderpoc.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return exit_info.value.code, capsys.readouterr().err


def test_cli_wrong_shape_state_is_one_line_exit_2(aws, capsys, tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    (state_dir / "orderpoc.aws.json").write_text(json.dumps({"schema": 1, "resources": []}))
    (state_dir / "orderpoc.aws.json").chmod(0o600)  # else the tightening is said first
    code, err = _main(capsys, "status", "--target", "aws", "--state-dir", str(state_dir))
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: state {state_dir}/orderpoc.aws.json is malformed (resources is a list, not an object); move it aside and rerun: resources are found by name"
    ]


def test_cli_unwritable_state_dir_is_one_line_exit_2(aws, capsys):
    code, err = _main(capsys, "up", "--target", "aws", "--state-dir", "/proc/self/fdinfo")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error: the state dir /proc/self/fdinfo is not writable")
    assert "Traceback" not in err and "Error:" not in err


def test_cli_says_when_it_tightened_the_state_dir(aws, capsys, tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)
    (state_dir / "orderpoc.aws.json").write_text(json.dumps({"schema": 1, "resources": []}))
    code, err = _main(capsys, "status", "--target", "aws", "--state-dir", str(state_dir))
    assert code == 2  # the wrong shape stops it, after the dir was tightened
    assert f"warning: state dir {state_dir} was readable by others (mode 0755); tightened to 0700" in err


def test_cli_a_lost_race_inside_the_engine_is_one_line_exit_2(capsys, monkeypatch, tmp_path):
    from orderpoc import app
    from orderpoc.errors import EngineError

    lost = StateConflict("the state at s3://b/k was changed by another command; nothing was overwritten")

    def prepare_up(*args, **kwargs):
        raise EngineError({"queue": lost, "dlq": lost})

    monkeypatch.setattr(app, "prepare_up", prepare_up)
    monkeypatch.setenv("ORDERPOC_STATE_DIR", str(tmp_path))
    code, err = _main(capsys, "up")
    assert code == 2
    assert err.strip().splitlines() == [f"error: {lost}"]


def test_a_write_removes_the_temp_files_of_killed_writers(tmp_path):
    path = tmp_path / "s.json"
    state = State(path)
    state.set_identity(stack="s", region="us-east-1")
    killed = tmp_path / ".s.json.abc123.tmp"  # a writer killed between its temp file and its rename
    recent = tmp_path / ".s.json.def456.tmp"
    other = tmp_path / ".t.json.abc123.tmp"  # another stack's
    for leftover in (killed, recent, other):
        leftover.write_bytes(b"{}")
    old = time.time() - 3600
    for aged in (killed, other):
        os.utime(aged, (old, old))
    state.record("queue", {"kind": "sqs_queue", "name": "q", "outputs": {}})
    assert sorted(p.name for p in tmp_path.glob(".*.tmp")) == [recent.name, other.name]
