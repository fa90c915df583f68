"""aws.unless_not_found and the small resource helpers in resources/util.py."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from orderpoc.aws import unless_not_found
from orderpoc.resources.base import Live, Resource
from orderpoc.resources.util import pick_ours, recorded_or_found, say_retry
from orderpoc.settings import TAG_KEY


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "SomeOperation")


def raising(exc: BaseException):
    def call():
        raise exc

    return call


def test_unless_not_found_passes_the_result_through():
    assert unless_not_found(lambda: {"Table": {}}) == {"Table": {}}


@pytest.mark.parametrize(
    "code",
    [
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
    ],
)
def test_unless_not_found_turns_not_found_into_none(code):
    assert unless_not_found(raising(client_error(code))) is None


@pytest.mark.parametrize(
    "exc",
    [
        client_error("AccessDeniedException"),
        client_error("ThrottlingException"),
        KeyError("NotFound"),
        RuntimeError("ResourceNotFoundException"),
    ],
)
def test_unless_not_found_lets_everything_else_through(exc):
    with pytest.raises(type(exc)) as raised:
        unless_not_found(raising(exc))
    assert raised.value is exc


def test_unless_not_found_against_moto(ctx):
    sqs = ctx.clients("sqs")
    assert unless_not_found(lambda: sqs.get_queue_url(QueueName="orderpoc-test-nope")) is None
    url = sqs.create_queue(QueueName="orderpoc-test-yes")["QueueUrl"]
    assert unless_not_found(lambda: sqs.get_queue_url(QueueName="orderpoc-test-yes")["QueueUrl"]) == url
    # A delete answers a (metadata) dict, so "is not None" tells deleted from already gone.
    assert unless_not_found(lambda: sqs.delete_queue(QueueUrl=url)) is not None


class _Ctx:
    stack = "mine"

    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, message: str) -> None:
        self.said.append(message)


def test_pick_ours_prefers_tagged_then_oldest():
    items = [
        {"id": "b", "name": "api", "createdDate": "2024-02"},
        {"id": "a", "name": "api", "createdDate": "2024-03", "tags": {TAG_KEY: "mine"}},
        {"id": "c", "name": "api", "createdDate": "2024-01", "tags": {TAG_KEY: "other"}},
        {"id": "d", "name": "other", "createdDate": "2023-01", "tags": {TAG_KEY: "mine"}},
    ]
    ctx = _Ctx()
    assert pick_ours(ctx, items, "api")["id"] == "a"
    untagged = [i for i in items if i["id"] != "a"]
    assert pick_ours(ctx, untagged, "api")["id"] == "c"  # oldest
    assert pick_ours(ctx, untagged, "api", require_tag=True) is None
    assert pick_ours(ctx, items, "missing") is None


class _Kind(Resource):
    def __init__(self, live: Live | None) -> None:
        self.live, self.finds = live, 0

    def find(self, ctx, name, desired):
        self.finds += 1
        return self.live


def test_recorded_or_found():
    kind = _Kind(Live({"id": "found"}, {}))
    assert recorded_or_found(kind, _Ctx(), "n", {"id": "recorded"}, "id") == "recorded"
    assert kind.finds == 0
    assert recorded_or_found(kind, _Ctx(), "n", None, "id") == "found"
    assert recorded_or_found(_Kind(None), _Ctx(), "n", {}, "id") is None


def test_say_retry():
    ctx = _Ctx()
    say_retry(ctx, "fn")("ThrottlingException: retrying", 1.25)
    assert ctx.said == ["fn: ThrottlingException: retrying in 1.2s"]


def test_expired_sso_session_is_a_one_line_user_error(aws, monkeypatch):
    from botocore.exceptions import UnauthorizedSSOTokenError

    from orderpoc.aws import Clients
    from orderpoc.errors import UserError
    from orderpoc.settings import Settings

    class ExpiredSts:
        def get_caller_identity(self):
            raise UnauthorizedSSOTokenError()

    clients = Clients(Settings(stack="orderpoc-test", target="aws", region="us-east-1"))
    monkeypatch.setattr(clients.session, "client", lambda *a, **k: ExpiredSts())
    with pytest.raises(UserError, match="aws sso login"):
        clients.account_id()
