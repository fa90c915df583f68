"""State file safety, deterministic packaging, policy scoping."""

from __future__ import annotations

import json
import multiprocessing
import zipfile
from io import BytesIO

import pytest

from orderpoc import package, policies
from orderpoc.errors import UserError
from orderpoc.state import State, locked


def test_state_write_is_atomic_private_and_reloadable(tmp_path):
    path = tmp_path / "dir" / "s.json"
    state = State(path)
    state.set_identity(account="1", region="us-east-1", endpoint=None)
    state.record("queue", {"kind": "sqs_queue", "name": "q", "outputs": {"arn": "x"}, "config_hash": "h"})
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "dir").stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert State.load(path).outputs("queue") == {"arn": "x"}


def test_state_refuses_another_stack_target_account_or_endpoint(tmp_path):
    state = State(tmp_path / "s.json")
    state.set_identity(stack="qa3", target="local", account="111111111111", region="us-east-1", endpoint=None)
    mine = {"stack": "qa3", "target": "local", "account": "111111111111", "region": "us-east-1", "endpoint": None}
    state.check_identity(**mine)
    with pytest.raises(UserError, match="account '111111111111'"):
        state.check_identity(**{**mine, "account": "222222222222"})
    with pytest.raises(UserError, match="endpoint"):
        state.check_identity(**{**mine, "endpoint": "http://127.0.0.1:4566"})
    # a file copied onto another stack's name: its down would delete qa3's resources
    with pytest.raises(UserError, match="state of stack 'qa3', not 'qa2': it was copied or renamed"):
        state.check_identity(**{**mine, "stack": "qa2"})
    with pytest.raises(UserError, match="state of target 'local', not 'aws'"):
        state.check_identity(**{**mine, "target": "aws"})


def test_corrupt_state_is_a_user_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    path.chmod(0o600)  # as orderpoc writes it (a looser one is tightened, and said)
    with pytest.raises(UserError, match="move it aside"):
        State.load(path)


def _hold_lock(path, ready, release):
    with locked(path):
        ready.set()
        release.wait(10)


@pytest.mark.filterwarnings("ignore::orderpoc.state_store.WaitNotice")
def test_lock_excludes_a_concurrent_command(tmp_path):
    path = tmp_path / "s.json"
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with (
            pytest.raises(UserError, match=r"is locked by .* pid \d+ .*--lock-timeout 0.2s"),
            locked(path, timeout=0.2),
        ):
            pass
    finally:
        release.set()
        holder.join(10)
    with locked(path, timeout=1):
        pass


def _write_sources(src, intake="def handler(e, c): return 1\n"):
    src.mkdir(exist_ok=True)
    (src / "intake.py").write_text(intake)
    (src / "processor.py").write_text("def handler(e, c): return 2\n")
    (src / "notifier.py").write_text("def handler(e, c): return 3\n")
    (src / "shared.py").write_text("X = 1\n")


def test_package_is_deterministic_and_per_function(tmp_path):
    _write_sources(tmp_path / "src")
    first = package.build_all(tmp_path / "src")
    again = package.build_all(tmp_path / "src")
    assert {fn: p.sha256 for fn, p in first.items()} == {fn: p.sha256 for fn, p in again.items()}
    names = zipfile.ZipFile(BytesIO(first["intake"].zip_bytes)).namelist()
    assert names == ["intake.py", "shared.py"]
    _write_sources(tmp_path / "src", intake="def handler(e, c): return 42\n")
    changed = package.build_all(tmp_path / "src")
    assert changed["intake"].sha256 != first["intake"].sha256
    assert changed["processor"].sha256 == first["processor"].sha256
    assert changed["notifier"].sha256 == first["notifier"].sha256


def test_shipped_lambda_sources_are_packaged():
    built = package.build_all()
    for fn, pkg in built.items():
        assert f"{fn}.py" in zipfile.ZipFile(BytesIO(pkg.zip_bytes)).namelist()


def _resources_and_actions(doc):
    for statement in doc["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement.get("Resource", [])
        yield actions, resources if isinstance(resources, list) else [resources]


@pytest.mark.parametrize(
    "doc",
    [
        policies.intake_policy(queue_arn="arn:q", table_arn="arn:t", log_group_arn="arn:lg"),
        policies.processor_policy(queue_arn="arn:q", table_arn="arn:t", log_group_arn="arn:lg"),
        policies.notifier_policy(
            stream_arn="arn:t/stream/1",
            table_arn="arn:t",
            topic_arn="arn:topic",
            failure_queue_arn="arn:f",
            log_group_arn="arn:lg",
        ),
    ],
)
def test_policies_have_no_wildcard_action_or_resource(doc):
    for actions, resources in _resources_and_actions(doc):
        assert resources and all(r != "*" and r.startswith("arn:") for r in resources)
        assert all("*" not in a for a in actions)
    json.dumps(doc)  # serialisable as IAM wants it


def test_state_that_is_not_an_object_is_a_user_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("[]")
    path.chmod(0o600)  # as orderpoc writes it (a looser one is tightened, and said)
    with pytest.raises(UserError, match="move it aside"):
        State.load(path)
