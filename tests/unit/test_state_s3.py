"""The S3 state store against moto in-process: conditional-write lock, compare-and-swap, errors."""

from __future__ import annotations

import contextlib
import json
import threading

import botocore.exceptions
import pytest

from orderpoc.errors import UserError
from orderpoc.local import patches
from orderpoc.settings import Settings
from orderpoc.state import State
from orderpoc.state_ops import init_bucket
from orderpoc.state_s3 import S3Store, parse_url
from orderpoc.state_store import LockHeld, StateConflict

BUCKET = "team-state"
ENTRY = {"kind": "sqs_queue", "name": "q", "outputs": {"arn": "x"}, "config_hash": "h"}


@pytest.fixture
def s3(clients):
    patches.atomic_s3_conditional_writes()
    client = clients("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def store(s3, name: str = "orderpoc.aws.json", **kwargs) -> S3Store:
    return S3Store(s3, parse_url(f"s3://{BUCKET}/team"), name, **kwargs)


def test_state_url_is_bucket_and_prefix():
    assert parse_url("s3://b-1.x/a/b/").key("s.json") == "a/b/s.json"
    assert parse_url("s3://bkt").key("s.json") == "s.json"
    for bad in ("http://b/p", "s3:///p", "s3://Bad_Bucket/p", "s3://b", "s3://bkt/a//b"):
        with pytest.raises(UserError, match="invalid"):
            parse_url(bad)


def test_writes_are_encrypted_compare_and_swap_with_a_growing_serial(s3):
    mine = State.load(store(s3))
    mine.record("queue", ENTRY)
    mine.record("dlq", ENTRY)
    head = s3.head_object(Bucket=BUCKET, Key="team/orderpoc.aws.json")
    assert head["ServerSideEncryption"] == "AES256"
    assert State.load(store(s3)).serial == 2
    rival = State.load(store(s3))
    rival.forget("dlq")
    with pytest.raises(StateConflict, match=r"changed by another command \(serial now 3, this one wrote 3\)"):
        mine.record("table", ENTRY)
    assert "table" not in State.load(store(s3)).resources and State.load(store(s3)).serial == 3


def test_first_write_only_creates(s3):
    first, second = State.load(store(s3)), State.load(store(s3))
    first.record("queue", ENTRY)
    with pytest.raises(StateConflict):
        second.record("dlq", ENTRY)


class _LostAnswers:
    """An S3 client whose PutObject lands but whose answer is lost, so botocore's retry is what
    the caller sees (412: the object it just wrote already matches / exists)."""

    def __init__(self, s3):
        self.s3 = s3

    def __getattr__(self, name):
        return getattr(self.s3, name)

    def put_object(self, **kwargs):
        self.s3.put_object(**kwargs)
        return self.s3.put_object(**kwargs)


def test_a_lost_answer_is_not_a_lost_race(s3):
    lossy = store(_LostAnswers(s3))
    state = State.load(lossy)
    state.record("queue", ENTRY)  # first write: If-None-Match retried
    state.record("dlq", ENTRY)  # CAS write: If-Match retried
    assert State.load(store(s3)).serial == 2
    with lossy.lock("up", timeout=0) as info:
        assert store(s3).holder().id == info.id
    assert store(s3).holder() is None


def test_the_lock_names_its_holder_and_the_command_that_breaks_it(s3):
    first = store(s3)
    with first.lock("up", timeout=0) as info:
        with pytest.raises(LockHeld) as held, store(s3).lock("down", timeout=0):
            pass
        message = str(held.value)
        assert f"is locked by {info.user}@{info.host} pid {info.pid}" in message
        assert f"lock {info.id}" in message and f"orderpoc state unlock {info.id}" in message
        assert "\n" not in message
        assert (
            json.loads(s3.get_object(Bucket=BUCKET, Key="team/orderpoc.aws.json.lock")["Body"].read())["operation"]
            == "up"
        )
    assert store(s3).holder() is None


def test_a_waiting_command_gets_the_lock_when_it_is_released(s3):
    holder = store(s3)
    released: list[bool] = []

    def release_on_first_wait(_seconds: float) -> None:
        if not released:
            released.append(True)
            context.__exit__(None, None, None)

    context = holder.lock("up", timeout=60)
    context.__enter__()
    waiting = pytest.warns(UserWarning, match="waiting for the state lock")
    with waiting, store(s3, sleep=release_on_first_wait).lock("up", timeout=60) as info:
        assert store(s3).holder().id == info.id
    assert released == [True]


def test_the_lock_is_released_on_ctrl_c(s3):
    with pytest.raises(KeyboardInterrupt), store(s3).lock("up", timeout=0):
        raise KeyboardInterrupt
    assert store(s3).holder() is None


def test_unlock_releases_only_the_named_lock(s3):
    context = store(s3).lock("up", timeout=0)
    info = context.__enter__()  # a holder that never exits: as if SIGKILLed
    with pytest.raises(UserError, match=f"with lock {info.id}, not nope; nothing released"):
        store(s3).unlock("nope")
    assert store(s3).unlock(info.id).id == info.id
    assert store(s3).holder() is None
    with store(s3).lock("up", timeout=0):
        context.__exit__(None, None, None)  # the old holder's release must not remove the new lock
        assert store(s3).holder() is not None


def test_moto_alone_lets_two_conditional_creators_both_win(s3, monkeypatch):
    """Why patches.atomic_s3_conditional_writes exists: moto checks If-None-Match, then writes."""
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    monkeypatch.setattr(S3Response, "put_object", S3Response.put_object.__wrapped__)
    both_checked = threading.Barrier(2, timeout=5)
    original_get = S3Backend.get_object

    def get_object(self, bucket, key, *args, **kwargs):
        found = original_get(self, bucket, key, *args, **kwargs)
        if key.endswith(".lock"):
            both_checked.wait()  # both threads have passed the If-None-Match check
        return found

    monkeypatch.setattr(S3Backend, "get_object", get_object)
    assert _race_for_the_lock(s3) == 2


def test_with_the_patch_exactly_one_conditional_creator_wins(s3, monkeypatch):
    from moto.s3.models import S3Backend

    original_get = S3Backend.get_object
    both_checked = threading.Barrier(2, timeout=1)

    def get_object(self, bucket, key, *args, **kwargs):
        found = original_get(self, bucket, key, *args, **kwargs)
        if key.endswith(".lock"):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_checked.wait()  # the patch keeps the other thread out: the barrier breaks
        return found

    monkeypatch.setattr(S3Backend, "get_object", get_object)
    assert _race_for_the_lock(s3) == 1


def _race_for_the_lock(s3) -> int:
    wins: list[str] = []

    def attempt(n: int) -> None:
        try:
            s3.put_object(Bucket=BUCKET, Key="race.lock", Body=str(n).encode(), IfNoneMatch="*")
            wins.append(str(n))
        except botocore.exceptions.ClientError:
            pass

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return len(wins)


def test_a_missing_bucket_is_one_line(clients):
    lonely = S3Store(clients("s3"), parse_url("s3://no-such-bucket/p"), "orderpoc.aws.json")
    with pytest.raises(
        UserError,
        match=r"state bucket no-such-bucket does not exist: create it with `orderpoc state init-bucket s3://no-such-bucket`",
    ):
        lonely.read()
    with pytest.raises(UserError, match="does not exist"), lonely.lock("up", timeout=0):
        pass


def test_access_denied_is_one_line(s3):
    class Denied:
        def __getattr__(self, name):
            def call(**kwargs):
                raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, name)

            return call

    with pytest.raises(
        UserError, match=r"access denied to the state at s3://team-state/team/orderpoc.aws.json \(AccessDenied\)"
    ):
        store(Denied()).read()


def test_init_bucket_makes_a_private_bucket_and_converges(clients, aws):
    settings = Settings(stack="orderpoc", target="aws")
    first = init_bucket(settings, "s3://fresh-state")
    assert first.created and len(first.changed) == 4
    s3 = clients("s3")
    assert s3.get_bucket_versioning(Bucket="fresh-state")["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket="fresh-state")["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_encryption(Bucket="fresh-state")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket="fresh-state")["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # (moto 5.2.1 ignores policy conditions, so from here on it denies every request to this bucket)


def test_init_bucket_converges_without_a_call_and_skips_tls_policy_on_http(clients, aws, monkeypatch):
    settings = Settings(stack="orderpoc", target="aws")
    s3 = clients("s3")
    s3.create_bucket(Bucket="plain-state")
    monkeypatch.setattr(type(s3.meta), "endpoint_url", property(lambda self: "http://127.0.0.1:4566"))
    first = init_bucket(settings, "s3://plain-state")
    assert (first.created, first.changed) == (False, ["public access blocked", "versioning on", "default encryption"])
    assert first.skipped and "is not TLS" in first.skipped[0]
    again = init_bucket(settings, "s3://plain-state")
    assert (again.created, again.changed) == (False, [])


def test_stacks_lists_what_the_prefix_holds(s3):
    State.load(store(s3, "a.aws.json")).record("queue", ENTRY)
    State.load(store(s3, "b.local.json")).record("queue", ENTRY)
    with store(s3, "c.aws.json").lock("up", timeout=0):
        assert store(s3).stacks() == [("a", "aws"), ("b", "local")]


def test_a_state_removed_under_a_writer_is_a_conflict_not_a_recreation(s3):
    mine = State.load(store(s3))
    mine.record("queue", ENTRY)
    State.load(store(s3)).remove_file()  # a `down` elsewhere
    with pytest.raises(StateConflict, match="was removed by another command"):
        mine.record("dlq", ENTRY)
    assert store(s3).read() is None
