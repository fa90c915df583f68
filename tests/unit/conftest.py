"""Shared fixtures for the in-process moto tests (helpers that are not fixtures live in *_helpers.py).

- `aws`: fake credentials in the environment and moto's `mock_aws()` active for the test.
- `clients`: an orderpoc `Clients` for `--target aws` in us-east-1 (moto intercepts every call).
- `ctx`: a resource `Context` for stack "orderpoc-test", account read from STS, tags
  {"orderpoc:stack": "orderpoc-test"}; everything passed to `ctx.say` lands in `ctx.messages`.
- `clock`: a fake `orderpoc.aws_retry.clock`: sleeping advances it at once, so waits on a time budget
  (IAM propagation, SQS name reuse) run in no time; `clock.refuse_until(...)` answers an error.
- `calls`: a `CallLog` recording every API call made through `clients` *after* it was requested.
  Use `calls.clear()` before the part under test, then e.g. `assert calls.mutating == []`.
- `fns`, `moto`, `pipeline`: the Lambda functions as Lambda imports them, one moto per test module,
  a fresh queue/table/topic per test (see fn_helpers.py).
- `api`, `role_arn`, `function`: an existing REST API, IAM role, Lambda function in `ctx`'s account.
- `emulator`: module-scoped; each test module boots its own embedded AWS (about half a second) on
  a free port in a temporary state dir, and its teardown stops it and asserts that the server and
  every worker process it spawned are gone (see local_helpers.py).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from apigw_helpers import API, api_desired
from fn_helpers import Pipeline, load_functions
from lambda_helpers import FUNCTION, TRUST, make_zip
from local_helpers import Emulator, assert_all_gone, free_port
from moto import mock_aws

from orderpoc.aws import Clients
from orderpoc.aws_calls import is_mutating
from orderpoc.local import lifecycle
from orderpoc.resources.base import Context
from orderpoc.settings import TAG_KEY, Settings

STACK = "orderpoc-test"
REGION = "us-east-1"

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
UNSET_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


def fake_credentials(mp: pytest.MonkeyPatch) -> None:
    for var in UNSET_ENV:
        mp.delenv(var, raising=False)
    for var, value in FAKE_ENV.items():
        mp.setenv(var, value)


@pytest.fixture(autouse=True)
def commands_share_clients(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[Any, ...], Clients]:
    """Within a test, each Clients for the same target, region, profile and endpoint uses the
    botocore clients the first one built, as one long-lived process would: building a client costs
    ~25 ms of CPU, and a test that runs several commands built the same ten clients each time.
    The app still opens a Clients per command; hooks (Clients.on) stay within the test."""
    shared: dict[tuple[Any, ...], Clients] = {}
    original_init = Clients.__init__

    def sharing_init(self: Clients, settings: Settings) -> None:
        original_init(self, settings)
        first = shared.setdefault((settings.target, settings.region, settings.profile, self.endpoint_url), self)
        if first is not self:
            self.session, self._clients, self._hooks, self._lock = (
                first.session,
                first._clients,
                first._hooks,
                first._lock,
            )

    monkeypatch.setattr(Clients, "__init__", sharing_init)
    return shared


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fake_credentials(monkeypatch)
    with mock_aws():
        yield


@pytest.fixture
def clients(aws: None) -> Clients:
    return Clients(Settings(stack=STACK, target="aws", region=REGION))


@pytest.fixture
def ctx(clients: Clients) -> Context:
    messages: list[str] = []
    context = TestContext(
        clients=clients,
        account=clients.account_id(),
        region=REGION,
        stack=STACK,
        tags={TAG_KEY: STACK},
        say=messages.append,
        messages=messages,
    )
    return context


@dataclasses.dataclass
class TestContext(Context):
    """A Context that also exposes the progress messages it was given."""

    __test__ = False  # not a pytest test class
    messages: list[str] = dataclasses.field(default_factory=list)


class CallLog:
    """Every API call as (service, operation), e.g. ("sqs", "SetQueueAttributes")."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, model: Any, **kwargs: Any) -> None:  # botocore "before-call" hook
        self.calls.append((model.service_model.service_name, model.name))

    @property
    def names(self) -> list[str]:
        return [operation for _, operation in self.calls]

    @property
    def mutating(self) -> list[str]:
        return [operation for operation in self.names if is_mutating(operation)]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def calls(clients: Clients) -> CallLog:
    log = CallLog()
    clients.on("before-call", log)
    return log


@pytest.fixture
def app_moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[tuple[CallLog, Settings]]:
    """The app layer on moto (target aws, stack "acc"): every Clients it builds logs its calls in
    one CallLog."""
    fake_credentials(monkeypatch)
    log = CallLog()
    original_init = Clients.__init__

    def logging_init(self: Clients, settings: Settings) -> None:
        original_init(self, settings)
        self.on("before-call", log)

    monkeypatch.setattr(Clients, "__init__", logging_init)
    with mock_aws():
        yield log, Settings(stack="acc", target="aws", region=REGION, state_dir=tmp_path / "state")


# --- the Lambda functions with moto (test_fn_*.py); helpers in fn_helpers.py ---------------


@pytest.fixture(scope="session")
def fns() -> dict[str, ModuleType]:
    return load_functions()


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    """One moto for the whole test module, with the test's own clients: making clients and
    starting moto cost far more than the tests themselves. Each test gets fresh resources."""
    with pytest.MonkeyPatch.context() as mp:
        fake_credentials(mp)
        with mock_aws():
            yield {
                name: boto3.client(name, region_name=REGION) for name in ("sqs", "dynamodb", "sns", "dynamodbstreams")
            }


@pytest.fixture
def pipeline(moto: dict[str, Any], fns: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """Queue, table (Streams NEW_IMAGE), topic and an SQS sink subscribed to the topic, named
    uniquely per test; the functions' env vars point at them; their cached clients start fresh."""
    fake_credentials(monkeypatch)
    sqs, dynamodb, sns = moto["sqs"], moto["dynamodb"], moto["sns"]
    stack = f"t{uuid.uuid4().hex[:10]}"
    queue_url = sqs.create_queue(QueueName=f"{stack}-orders")["QueueUrl"]
    table = f"{stack}-orders"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    topic_arn = sns.create_topic(Name=f"{stack}-order-events")["TopicArn"]
    sink_url = sqs.create_queue(QueueName=f"{stack}-events-sink")["QueueUrl"]
    sink_arn = sqs.get_queue_attributes(QueueUrl=sink_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=sink_arn)
    monkeypatch.setenv("ORDERS_QUEUE_URL", queue_url)
    monkeypatch.setenv("ORDERS_TABLE", table)
    monkeypatch.setenv("ORDER_EVENTS_TOPIC_ARN", topic_arn)
    fns["orderlib"].reset_clients()
    yield Pipeline(
        sqs=sqs,
        dynamodb=dynamodb,
        sns=sns,
        streams=moto["dynamodbstreams"],
        queue_url=queue_url,
        table=table,
        topic_arn=topic_arn,
        sink_url=sink_url,
        fns=fns,
    )
    fns["orderlib"].reset_clients()  # clients hold this test's env and hooks: never reuse them


# --- resource kinds that need an existing API, role or function ---------------------------


@pytest.fixture
def api(ctx: Any) -> dict[str, Any]:
    """The order API, created with the rest_api kind; returns its outputs."""
    from orderpoc.resources.apigateway import rest_api

    return rest_api.create(ctx, API, api_desired(ctx)).outputs


@pytest.fixture
def role_arn(ctx: Any) -> str:
    """moto's create_function checks that the role exists in the same account."""
    iam = ctx.clients("iam")
    return iam.create_role(RoleName=FUNCTION, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def function(ctx: Any, role_arn: str) -> dict[str, str]:
    """An existing function, created straight with boto3; returns {"name", "arn"}."""
    conf = ctx.clients("lambda").create_function(
        FunctionName=FUNCTION,
        Role=role_arn,
        Runtime="python3.12",
        Handler="index.handler",
        Code={"ZipFile": make_zip()},
    )
    return {"name": FUNCTION, "arn": conf["FunctionArn"]}


# --- the embedded AWS (test_local_*.py); helpers in local_helpers.py ----------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state_dir = tmp_path_factory.mktemp("state")
    port = free_port()
    status = lifecycle.start(state_dir, port)
    try:
        yield Emulator(state_dir, port, status)
    finally:
        assert lifecycle.stop(state_dir, port) is True
        assert status.pid is not None
        assert_all_gone(status.pid)


class FakeClock:
    """Time that passes only when orderpoc sleeps."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.seconds += seconds

    def refuse_until(self, clients: Clients, event: str, seconds: float, code: str, message: str) -> list[float]:
        """Answer the calls of `event` (e.g. "before-call.lambda.CreateFunction") with this error until
        `seconds` of this clock have passed; returns the times the calls were made."""
        attempts: list[float] = []

        class Http:
            status_code = 400

        def refuse(**kwargs: Any) -> Any:
            attempts.append(self.seconds)
            if self.seconds < seconds:
                return Http(), {"Error": {"Code": code, "Message": message}}
            return None

        clients.on(event, refuse)
        return attempts


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("orderpoc.aws_retry.clock", fake)
    return fake


@pytest.fixture
def app_calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """Every API call of every `Clients` the app builds, as (service, operation, params)."""
    recorded: list[tuple[str, str, dict[str, Any]]] = []
    original_init = Clients.__init__

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        recorded.append((model.service_model.service_name, model.name, dict(params)))

    def recording_init(self: Clients, settings: Settings) -> None:
        original_init(self, settings)
        self.on("before-parameter-build", record)  # one hook, however many Clients share the clients

    monkeypatch.setattr(Clients, "__init__", recording_init)
    return recorded
