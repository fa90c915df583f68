"""Pure pieces of the embedded AWS: event filters, API routing, proxy responses, throttling."""

from __future__ import annotations

import json
import os
import threading
import time
from types import SimpleNamespace

import pytest

from orderpoc.local import filtering, procs
from orderpoc.local.apigw_proxy import proxy_response
from orderpoc.local.apigw_routes import Throttle, resolve
from orderpoc.local.sqs_poller import SqsPoller

INSERT = {"eventName": "INSERT", "dynamodb": {"NewImage": {"status": {"S": "PAID"}, "total": {"N": "12"}}}}


def _passes(record: dict, *patterns: dict) -> bool:
    criteria = {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}
    return filtering.passes(record, filtering.compile_filters(criteria))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT"]}, True),
        ({"eventName": ["MODIFY", "REMOVE"]}, False),
        ({"dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "PA"}]}}}}, True),
        ({"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["PAID"]}]}}}}, False),
        ({"dynamodb": {"NewImage": {"missing": [{"exists": False}]}}}, True),
        ({"dynamodb": {"NewImage": {"missing": [{"exists": True}]}}}, False),
        ({"eventName": [{"equals-ignore-case": "insert"}]}, True),
        ({"eventName": "INSERT"}, False),  # values must be lists, as Lambda requires
    ],
)
def test_filter_patterns(pattern: dict, expected: bool) -> None:
    assert _passes(INSERT, pattern) is expected


def test_no_filters_pass_everything_and_any_matching_filter_suffices() -> None:
    assert filtering.passes(INSERT, [])
    assert _passes(INSERT, {"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]})


def test_numeric_and_sqs_json_bodies() -> None:
    record = filtering.sqs_view({"body": json.dumps({"qty": 3, "tags": ["a", "b"]})})
    assert _passes(record, {"body": {"qty": [{"numeric": [">", 0, "<=", 5]}]}})
    assert not _passes(record, {"body": {"qty": [{"numeric": [">", 3]}]}})
    assert _passes(record, {"body": {"tags": ["b"]}})
    assert filtering.sqs_view({"body": "plain"}) == {"body": "plain"}


def test_an_invalid_pattern_matches_nothing() -> None:
    patterns = filtering.compile_filters({"Filters": [{"Pattern": "{not json"}]})
    assert not filtering.passes(INSERT, patterns)


def _api(*paths_and_methods: tuple[str, str]) -> SimpleNamespace:
    resources = {}
    for index, (path, method) in enumerate(paths_and_methods):
        resources[str(index)] = SimpleNamespace(
            id=str(index), get_path=lambda p=path: p, resource_methods={method: SimpleNamespace(http_method=method)}
        )
    return SimpleNamespace(resources=resources)


def test_routing_prefers_literals_then_parameters_then_greedy() -> None:
    api = _api(("/orders/{id}", "GET"), ("/orders/latest", "GET"), ("/{proxy+}", "ANY"), ("/", "GET"))
    assert resolve(api, "GET", "/orders/latest").resource_path == "/orders/latest"
    route = resolve(api, "GET", "/orders/o-1")
    assert (route.resource_path, route.path_parameters) == ("/orders/{id}", {"id": "o-1"})
    assert resolve(api, "POST", "/orders/o-1").path_parameters == {"proxy": "orders/o-1"}
    assert resolve(api, "GET", "/").resource_path == "/"
    assert resolve(_api(("/orders", "POST")), "GET", "/orders") is None


@pytest.mark.parametrize(
    "payload", [None, "text", {"body": "x"}, {"statusCode": "abc"}, {"statusCode": 200, "body": {}}]
)
def test_malformed_proxy_responses_are_rejected(payload: object) -> None:
    assert proxy_response(payload, "rid") is None


def test_proxy_response_mapping() -> None:
    response = proxy_response({"statusCode": 204, "headers": {"A": "1"}, "multiValueHeaders": {"B": ["x", "y"]}}, "rid")
    assert response is not None and response.status_code == 204
    assert response.headers["A"] == "1" and response.headers.getlist("B") == ["x", "y"]
    assert response.headers["x-amzn-RequestId"] == "rid"


def test_throttle_is_a_token_bucket() -> None:
    plan = SimpleNamespace(id="p", throttle={"rateLimit": 0.001, "burstLimit": 2})
    key = SimpleNamespace(id="k")
    throttle = Throttle()
    assert [throttle.allow(plan, key) for _ in range(3)] == [True, True, False]
    assert Throttle().allow(SimpleNamespace(id="q", throttle={}), key)


def _poller_receiving(window: float, arrivals: list[list[str]]) -> tuple[SqsPoller, list[int]]:
    """An SQS poller whose receives answer `arrivals` in turn (then nothing); records each wait."""
    config = {
        "UUID": "u-1",
        "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": window,
    }
    poller = SqsPoller(config, SimpleNamespace(max_workers=1))
    waits: list[int] = []

    def receive(count: int, wait: int) -> list[dict]:
        waits.append(wait)
        return [{"MessageId": m} for m in (arrivals.pop(0) if arrivals else [])][:count]

    poller._receive = receive  # type: ignore[method-assign]
    return poller, waits


def test_sqs_poller_without_a_window_invokes_with_the_first_receive() -> None:
    poller, waits = _poller_receiving(0, [["m1"], ["m2"]])
    assert [m["MessageId"] for m in poller._gather()] == ["m1"]
    assert waits == [1]  # one long poll, no second look


def test_sqs_poller_fills_its_window_with_long_polls_not_a_short_poll_loop() -> None:
    # A sub-second window: sleep it out, then one last look (it was a 50 ms short-poll loop).
    poller, waits = _poller_receiving(0.3, [["m1"], [], ["m2"]])
    assert [m["MessageId"] for m in poller._gather()] == ["m1"]
    assert waits == [1, 0]
    # A full batch ends the window early.
    poller, waits = _poller_receiving(5, [["a"] * 6, ["b"] * 4, ["c"]])
    assert len(poller._gather()) == 10
    assert waits == [1, 4]


class _Backlog:
    """An SQS poller over a list of messages; each invocation waits at a gate, so the lanes at work
    at once can be counted."""

    def __init__(self, messages: int, *, batch_size: int, max_lanes: int) -> None:
        config = {
            "UUID": "u-2",
            "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q",
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "BatchSize": batch_size,
            "ScalingConfig": {"MaximumConcurrency": max_lanes},
        }
        self.poller = SqsPoller(config, SimpleNamespace(max_workers=10))
        self.waiting = [f"m{i}" for i in range(messages)]
        self.gate = threading.Event()
        self.busy = self.most_busy = 0
        self.batches: list[int] = []
        self._lock = threading.Lock()
        self.poller._receive = self._receive  # type: ignore[method-assign]
        self.poller._process = self._process  # type: ignore[method-assign]

    def _receive(self, count: int, wait: int) -> list[dict]:
        with self._lock:
            taken, self.waiting = self.waiting[:count], self.waiting[count:]
        if not taken:
            self.poller._stop.wait(0.01)  # the long poll, shortened
        return [{"MessageId": m} for m in taken]

    def _process(self, batch: list[dict]) -> None:
        with self._lock:
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
            self.batches.append(len(batch))
        self.gate.wait(10)
        with self._lock:
            self.busy -= 1

    def until(self, condition, what: str) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.005)


def test_sqs_lanes_grow_with_a_backlog_up_to_the_maximum_and_shrink_back_to_one() -> None:
    backlog = _Backlog(20, batch_size=2, max_lanes=3)
    backlog.poller.start()
    try:
        backlog.until(lambda: backlog.busy == 3, "three full batches at once")
        assert backlog.poller.lanes == 3
        backlog.gate.set()
        backlog.until(lambda: not backlog.waiting, "the backlog drained")
        backlog.until(lambda: backlog.poller.lanes == 1, "idle lanes retired")
        backlog.until(lambda: sum(t.is_alive() for t in backlog.poller._threads) == 1, "their threads ended")
        assert backlog.most_busy == 3 and sum(backlog.batches) == 20
    finally:
        backlog.gate.set()
        backlog.poller.stop()
        backlog.poller.join(5)
    assert not any(t.is_alive() for t in backlog.poller._threads)


def test_sqs_lanes_stay_one_while_batches_come_back_short() -> None:
    backlog = _Backlog(0, batch_size=5, max_lanes=4)
    backlog.gate.set()
    backlog.poller.start()
    try:
        for _ in range(10):
            with backlog._lock:
                backlog.waiting.append("m")  # a trickle: one message at a time, never a backlog
            backlog.until(lambda: not backlog.waiting, "the message taken")
        backlog.until(lambda: sum(backlog.batches) == 10, "all processed")
        assert backlog.most_busy == 1 and backlog.poller.lanes == 1
    finally:
        backlog.poller.stop()
        backlog.poller.join(5)


def test_sns_to_sqs_documents_share_one_certificate_and_are_really_signed() -> None:
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from orderpoc.local.patches import _post_data_with_one_certificate

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    region = "eu-north-1"
    topic = SimpleNamespace(arn=f"arn:aws:sns:{region}:123456789012:t", sns_backend=SimpleNamespace(region_name=region))
    subscription = SimpleNamespace(topic=topic, arn=f"{topic.arn}:sub-1")
    get_post_data = _post_data_with_one_certificate(lambda: key)
    pems = sns_backends[DEFAULT_ACCOUNT_ID][region]._message_public_keys
    before = len(pems)

    documents = [get_post_data(subscription, f"message {i}", f"id-{i}", "Subject", None) for i in range(3)]

    assert len({d["SigningCertURL"] for d in documents}) == 1
    assert len(pems) == before + 1  # moto kept one PEM per message, forever
    cert = x509.load_pem_x509_certificate(pems[documents[0]["SigningCertURL"].rsplit("/", 1)[1]])
    for d in documents:
        signed = "".join(f"{k}\n{d[k]}\n" for k in ("Message", "MessageId", "Timestamp", "TopicArn", "Type"))
        cert.public_key().verify(base64.b64decode(d["Signature"]), signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert documents[0]["Subject"] == "Subject" and documents[0]["Type"] == "Notification"


def test_a_stopped_sqs_poller_takes_no_message_so_none_reaches_the_dlq_by_its_receives() -> None:
    """Disabling a mapping must not spend the receives of an order that arrives just after: each
    lane taking it and handing it back counted towards maxReceiveCount and sent it to the DLQ."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="order")
        config = {
            "UUID": "u-1",
            "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q",
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "BatchSize": 10,
        }
        poller = SqsPoller(config, SimpleNamespace(max_workers=5))
        poller.stop()
        for _lane in range(5):
            assert poller._receive(10, 1) == []  # stopped: it takes nothing, even in a long poll
        message = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
        assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # this receive is its first


@pytest.mark.parametrize(
    ("state", "flags", "expected"),
    [
        ("S", 0x400100, True),  # asleep, as a server waiting for a request is
        ("R", 0x400100 | procs.PF_EXITING, False),  # killed: its sockets may be closed already
        ("Z", 0x40840C, False),
        ("X", 0x40840C, False),
    ],
)
def test_a_process_on_its_way_out_is_not_alive(monkeypatch, state: str, flags: int, expected: bool) -> None:
    fields = [state, "1", "7", "7", "0", "-1", str(flags), "0"]
    monkeypatch.setattr(procs, "_stat", lambda pid: fields)
    assert procs.alive(12345) is expected


def test_this_process_is_alive() -> None:
    assert procs.alive(os.getpid())


class _FakePoller:
    def __init__(self, config: dict) -> None:
        self.config, self.running = config, False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def join(self, timeout: float | None = None) -> None:
        pass


def test_a_stopped_supervisor_starts_no_poller_on_a_later_mapping_change(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaBackend

    from orderpoc.local import pollers

    for name in pollers._MAPPING_CHANGES + pollers._FUNCTION_DELETIONS:  # moto's own again after the test
        monkeypatch.setattr(LambdaBackend, name, getattr(LambdaBackend, name))
    mapping = {"UUID": "u-1", "State": "Enabled", "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q"}
    monkeypatch.setattr(pollers.backends, "event_source_mappings", lambda: [mapping])
    supervisor = pollers.Supervisor(runtime=None)
    monkeypatch.setattr(supervisor, "_make", _FakePoller)
    supervisor.start()
    supervisor._reconcile_quietly()  # as after a CreateEventSourceMapping
    assert supervisor.running() == ["u-1"]
    supervisor.stop()
    supervisor._reconcile_quietly()  # a mapping change after the stop
    assert supervisor.running() == []
