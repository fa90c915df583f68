"""Clients, the aws_* modules (error classification, wait_out, the shared session) and the small
resource helpers in resources/util.py."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orderpoc.aws_errors import (
    is_already_exists,
    is_conflict,
    is_propagation_delay,
    pending_iam_or_change,
    unless_not_found,
)
from orderpoc.aws_retry import wait_out
from orderpoc.errors import ResourceError
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
    monkeypatch.setattr(clients.session, "create_client", lambda *a, **k: ExpiredSts())
    with pytest.raises(UserError, match="aws sso login"):
        clients.account_id()


def test_an_identity_check_lost_on_the_way_is_asked_again(aws, monkeypatch):
    """A 5xx or a dropped answer of the one read every command starts with: a rerun would work."""
    from botocore.exceptions import ConnectionClosedError

    from orderpoc import aws_retry
    from orderpoc.aws import Clients
    from orderpoc.settings import Settings

    failures = [
        ClientError({"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "X"),
        ConnectionClosedError(endpoint_url="https://sts"),
    ]

    class FlakySts:
        def get_caller_identity(self):
            if failures:
                raise failures.pop(0)
            return {"Account": "123456789012"}

    monkeypatch.setattr(aws_retry.time, "sleep", lambda seconds: None)
    clients = Clients(Settings(stack="orderpoc-test", target="aws", region="us-east-1"))
    monkeypatch.setattr(clients.session, "create_client", lambda *a, **k: FlakySts())
    assert clients.account_id() == "123456789012" and failures == []


def message_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SomeOperation")


@pytest.mark.parametrize(
    "code, message",
    [
        ("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."),
        (
            "InvalidParameterValueException",
            "The provided execution role does not have permissions to call ReceiveMessage on SQS",
        ),
        (
            "InvalidParameterValueException",
            "Cannot access stream arn:aws:dynamodb:us-east-1:1:table/t/stream/x. Please ensure the role can "
            "perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.",
        ),
        (
            "InvalidParameterValueException",
            "The provided execution role does not have permissions to call Publish on SNS",
        ),
        (
            "InvalidParameterValueException",
            "Lambda was unable to configure access to your environment variables because the KMS key is invalid "
            "for CreateGrant. KMS Exception: AccessDeniedException KMS Message: not allowed",
        ),
        ("KMSAccessDeniedException", "Lambda was unable to decrypt the environment variables: access denied"),
        ("KMSAccessDenied", "The ciphertext refers to a customer master key that does not exist"),
    ],
)
def test_every_propagation_wording_is_waited_for(code, message):
    assert is_propagation_delay(message_error(code, message))
    assert pending_iam_or_change(message_error(code, message)) == "IAM to propagate"


@pytest.mark.parametrize(
    "code, message",
    [
        ("InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes"),
        ("AccessDeniedException", "User is not authorized to perform: lambda:CreateFunction"),
        ("ValidationException", "1 validation error detected"),
    ],
)
def test_other_errors_are_not_waited_for(code, message):
    assert not is_propagation_delay(message_error(code, message))
    assert pending_iam_or_change(message_error(code, message)) is None


@pytest.mark.parametrize(
    "code, message",
    [
        ("EntityAlreadyExists", "Role with name x already exists."),
        ("ResourceAlreadyExistsException", "The specified log group already exists"),
        ("QueueAlreadyExists", "The specified queue already exists."),
        ("QueueNameExists", "The specified queue already exists."),
        ("ResourceInUseException", "Table already exists: x"),
        ("ResourceConflictException", "Function already exist: x"),
        ("ResourceConflictException", "The statement id (apigateway-invoke) provided already exists."),
        ("ConflictException", "Stage already exists"),
        ("ConflictException", "Another resource with the same parent already has this name: order"),
        ("InvalidParameter", "Invalid parameter: Tags Reason: Topic already exists with different tags"),
    ],
)
def test_already_exists_in_every_wording(code, message):
    assert is_already_exists(message_error(code, message))
    assert not is_conflict(message_error(code, message))  # adopt it, do not wait for it


@pytest.mark.parametrize(
    "code, message",
    [
        ("ResourceConflictException", "An update is in progress for resource: arn:aws:lambda:x"),
        ("ResourceInUseException", "Cannot delete, mapping is in use"),
        ("ConflictException", "Unable to complete operation due to concurrent modification. Please try again later."),
    ],
)
def test_busy_is_not_already_exists(code, message):
    assert not is_already_exists(message_error(code, message))


def test_wait_out_runs_on_a_time_budget(clock):
    said: list[str] = []

    def call() -> str:
        if clock.now() < 18:
            raise message_error("InvalidParameterValueException", "cannot be assumed by Lambda")
        return "done"

    assert wait_out(call, awaiting=pending_iam_or_change, budget=20, name="fn", say=said.append) == "done"
    assert clock.now() >= 18
    assert said[0] == "waiting for IAM to propagate … 0 s"
    assert all(m.startswith("waiting for IAM to propagate … ") for m in said)


def test_wait_out_gives_up_when_the_budget_is_spent(clock):
    def call() -> str:
        raise message_error("InvalidParameterValueException", "cannot be assumed by Lambda")

    with pytest.raises(ResourceError, match=r"^fn: gave up waiting for IAM to propagate after 20 s: .*cannot be"):
        wait_out(call, awaiting=pending_iam_or_change, budget=20, name="fn", say=lambda m: None)
    assert clock.now() == pytest.approx(20)


def test_wait_out_does_not_wait_for_other_errors(clock):
    def call() -> str:
        raise message_error("ValidationException", "bad")

    with pytest.raises(ClientError, match="bad"):
        wait_out(call, awaiting=pending_iam_or_change, budget=20, name="fn", say=lambda m: None)
    assert clock.sleeps == []


def test_a_hook_registered_twice_is_called_once_and_reaches_later_clients(clients):
    seen: list[str] = []

    def hook(model, **_):
        seen.append(model.name)

    clients("sqs").list_queues()
    clients.on("before-call", hook)
    clients.on("before-call", hook)
    clients("sqs").list_queues()  # a client built before the hook
    clients("sns").list_topics()  # and one built after
    assert seen == ["ListQueues", "ListTopics"]


def test_sessions_share_one_loader_whose_models_are_plain_dicts() -> None:
    from orderpoc.aws_session import new_session

    first, second = new_session(region_name="us-east-1"), new_session(region_name="eu-west-1")
    model = first.create_client("sqs", aws_access_key_id="a", aws_secret_access_key="b")._service_model
    again = second.create_client("sqs", aws_access_key_id="a", aws_secret_access_key="b")._service_model
    assert again._service_description is model._service_description  # parsed once per process
    assert type(model._service_description) is dict and type(model._service_description["shapes"]) is dict


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1"])
def test_regions_of_every_partition_are_known(region: str) -> None:
    from orderpoc.settings import validate_region

    assert validate_region(region) == region


def test_an_unknown_profile_is_a_user_error_before_any_call(monkeypatch, tmp_path) -> None:
    from orderpoc.aws import Clients
    from orderpoc.errors import UserError
    from orderpoc.settings import Settings

    (tmp_path / "config").write_text("[profile known]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(UserError, match="list profiles with `aws configure list-profiles`"):
        Clients(Settings(stack="orderpoc-test", target="aws", region="us-east-1", profile="unknown"))
    assert Clients(Settings(stack="orderpoc-test", target="aws", region="us-east-1", profile="known")).session


def test_a_profile_from_the_environment_must_exist_on_aws_and_does_not_matter_locally(monkeypatch, tmp_path) -> None:
    from orderpoc.aws import Clients
    from orderpoc.errors import UserError
    from orderpoc.settings import Settings

    (tmp_path / "config").write_text("[profile known]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "gone")  # left set from another project
    with pytest.raises(UserError, match="list profiles with `aws configure list-profiles`"):
        Clients(Settings(stack="orderpoc-test", target="aws", region="us-east-1"))
    local = Clients(Settings(stack="orderpoc-test", target="local", region="us-east-1", local_port=4599))
    assert local("sqs").meta.region_name == "us-east-1"  # the local AWS needs no profile


def test_the_stacks_clients_are_built_while_the_identity_call_is_on_the_network(clients):
    built_meanwhile: list[bool] = []

    def during_identity(**_):
        deadline = time.monotonic() + 5
        while "sqs" not in clients._clients and time.monotonic() < deadline:
            time.sleep(0.01)
        built_meanwhile.append("sqs" in clients._clients)

    clients.on("before-send.sts.GetCallerIdentity", during_identity)
    clients.account_id(meanwhile=("sqs",))
    assert built_meanwhile == [True]


def test_the_shared_loader_knows_the_same_services_without_walking_every_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import botocore.exceptions
    import botocore.loaders

    from orderpoc import aws_session

    custom = tmp_path / "models" / "myservice" / "2026-01-01"  # an AWS_DATA_PATH model is found too
    custom.mkdir(parents=True)
    (custom / "service-2.json").write_text("{}")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    monkeypatch.setattr(aws_session, "_shared_loader", None)
    lazy = aws_session.shared_loader()
    full = botocore.loaders.create_loader(str(tmp_path / "models"))
    types = ("service-2", "endpoint-rule-set-1")
    known = {type_name: full.list_available_services(type_name) for type_name in types}  # botocore's walk
    walks: list[str] = []
    original_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: walks.append(str(path)) or original_listdir(path))
    for type_name in types:
        listed = lazy.list_available_services(type_name)
        for service in ("sqs", "iam", "myservice", "nosuchservice", "", "../sqs", ".hidden"):
            assert (service in listed) == (service in known[type_name]), service
    assert len(walks) < 40  # each service's own directories, not all ~450 of them
    assert list(lazy.list_available_services("service-2")) == known["service-2"]
    with pytest.raises(botocore.exceptions.UnknownServiceError, match="Valid service names are: .*sqs"):
        aws_session.new_session().create_client("nosuchservice", region_name="us-east-1")
    monkeypatch.setattr(aws_session, "_shared_loader", None)  # the next test's loader is a plain one again
