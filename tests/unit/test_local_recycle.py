"""The embedded AWS starts afresh in place only when it holds nothing, and never mid-request."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from local_helpers import TRUST, Emulator, assert_all_gone, free_port, make_zip, wait_for
from moto import mock_aws

from orderpoc.local import lifecycle, recycle
from orderpoc.local.gate import RequestGate
from orderpoc.local.idle_gc import IdleCollector
from orderpoc.local.recycle import Recycler, ServiceLedger, holdings
from orderpoc.local.server import RECYCLE_GROWTH_MB, recycle_growth_mb

REGION = "us-east-1"
SIGNED = "AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"


@pytest.fixture
def moto_backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def test_nothing_is_held_until_something_is_made_and_nothing_once_it_is_deleted(moto_backends: None) -> None:
    iam = boto3.client("iam")
    iam.list_policies(Scope="AWS", MaxItems=5)  # moto's own managed policies are nobody's resources
    assert holdings() == []
    made = {
        "sqs_backends.queues": lambda: boto3.client("sqs").create_queue(QueueName="q"),
        "dynamodb_backends.tables": lambda: boto3.client("dynamodb").create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        ),
        "sns_backends.topics": lambda: boto3.client("sns").create_topic(Name="t"),
        "iam_backends.roles": lambda: iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST),
        "iam_backends.managed_policies": lambda: iam.create_policy(
            PolicyName="p",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
            ),
        ),
        "logs_backends.groups": lambda: boto3.client("logs").create_log_group(logGroupName="g"),
        "logs_backends.filters": lambda: boto3.client("logs").put_metric_filter(
            logGroupName="g",
            filterName="errors",
            filterPattern="ERROR",
            metricTransformations=[{"metricName": "errors", "metricNamespace": "app", "metricValue": "1"}],
        ),
        "apigateway_backends.apis": lambda: boto3.client("apigateway").create_rest_api(name="a"),
        "s3_backends.buckets": lambda: boto3.client("s3").create_bucket(Bucket="state-bucket"),
    }
    for container, make in made.items():
        make()
        assert container in holdings()
    boto3.client("sqs").delete_queue(QueueUrl=boto3.client("sqs").get_queue_url(QueueName="q")["QueueUrl"])
    assert "sqs_backends.queues" not in holdings()


def test_a_deleted_usage_plans_keys_that_moto_keeps_are_not_held(moto_backends: None) -> None:
    apigw = boto3.client("apigateway")
    plan = apigw.create_usage_plan(name="p")["id"]
    key = apigw.create_api_key(name="k", enabled=True)["id"]
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
    assert "apigateway_backends.usage_plan_keys" in holdings()
    apigw.delete_api_key(apiKey=key)
    apigw.delete_usage_plan(usagePlanId=plan)
    assert holdings() == []


def test_lambda_functions_and_layers_are_held_and_a_deleted_functions_leftovers_are_not(moto_backends: None) -> None:
    role = boto3.client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    lam = boto3.client("lambda")
    code = {"ZipFile": make_zip({"h.py": "def handler(event, context):\n    return 1\n"})}
    lam.create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="h.handler", Code=code)
    assert "lambda_backends._lambdas" in holdings()
    lam.delete_function(FunctionName="f")  # moto keeps an empty alias table for it
    assert not [held for held in holdings() if held.startswith("lambda_backends")]
    lam.publish_layer_version(LayerName="deps", Content=code)
    assert "lambda_backends._layers" in holdings()


def _request(ledger: ServiceLedger, environ: dict[str, Any]) -> None:
    app = ledger.wrap(lambda environ, start_response: [b"ok"])
    assert app(environ, lambda *a: None) == [b"ok"]


def test_the_ledger_turns_foreign_at_the_first_service_it_cannot_look_into() -> None:
    ledger = ServiceLedger()
    for service in ("sqs", "dynamodb", "lambda", "iam", "sts", "tagging"):
        _request(ledger, {"HTTP_AUTHORIZATION": SIGNED.format(service), "PATH_INFO": "/"})
    for ours in ("/_orderpoc/health", "/restapis/abc/v1/_user_request_/orders"):
        _request(ledger, {"PATH_INFO": ours})
    assert ledger.foreign is None
    _request(ledger, {"HTTP_AUTHORIZATION": SIGNED.format("ec2"), "PATH_INFO": "/"})
    _request(ledger, {"PATH_INFO": "/"})
    assert ledger.foreign == "ec2"
    unsigned = ServiceLedger()
    _request(unsigned, {"PATH_INFO": "/some-bucket/key"})  # unsigned: it could be anything
    assert unsigned.foreign == "an unsigned request"


class Fakes:
    def __init__(self) -> None:
        self.rss = 100.0
        self.held: list[str] = []
        self.stops = 0
        self.ledger = ServiceLedger()
        self.gate = RequestGate()

    def recycler(self, growth_mb: float | None = 30.0) -> Recycler:
        def stop_serving() -> None:
            self.stops += 1

        return Recycler(self.ledger, self.gate, stop_serving, growth_mb, rss=lambda: self.rss, held=lambda: self.held)


def test_it_restarts_only_when_grown_empty_and_clean_and_then_keeps_the_gate_shut() -> None:
    fakes = Fakes()
    recycler = fakes.recycler()
    fakes.rss = 120.0
    assert recycler.after_idle() is False and "under 30" in recycler.kept_because
    fakes.rss, fakes.held = 140.0, ["sqs_backends.queues"]
    assert recycler.after_idle() is False and "sqs_backends.queues" in recycler.kept_because
    fakes.held = []
    fakes.ledger.foreign = "ec2"
    assert recycler.after_idle() is False and "ec2" in recycler.kept_because
    assert fakes.stops == 0 and not recycler.due
    fakes.ledger.foreign = None
    assert recycler.after_idle() is True and recycler.due and fakes.stops == 1  # the accept loop stops
    assert recycler.confirm() is True and not recycler.due
    entered = threading.Event()

    def request() -> None:
        with fakes.gate:
            entered.set()

    threading.Thread(target=request, daemon=True).start()
    assert not entered.wait(0.2)  # shut: the request waits for the new process
    fakes.gate.reopen()  # (the new process would answer it)
    assert entered.wait(5)


def test_a_request_in_flight_or_a_resource_made_meanwhile_keeps_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recycle, "QUIESCE_SECONDS", 0.05)
    fakes = Fakes()
    recycler = fakes.recycler(growth_mb=0)
    assert recycler.after_idle() is True
    with fakes.gate:  # a request being answered
        assert recycler.confirm() is False and recycler.kept_because == "a request came in"
    looks = iter([[], ["sqs_backends.queues"]])  # empty at the first look, a queue by the second
    recycler = Recycler(fakes.ledger, fakes.gate, lambda: None, 0, rss=lambda: 100.0, held=lambda: next(looks))
    assert recycler.after_idle() is True
    assert recycler.confirm() is False and "sqs_backends.queues" in recycler.kept_because
    with fakes.gate:  # reopened: requests pass again
        pass


def test_recycling_can_be_set_or_turned_off() -> None:
    assert recycle_growth_mb(None) == RECYCLE_GROWTH_MB
    assert recycle_growth_mb("0") == 0
    assert recycle_growth_mb("64") == 64
    assert recycle_growth_mb("off") is None
    assert recycle_growth_mb("lots") == RECYCLE_GROWTH_MB
    off = Fakes()
    recycler = off.recycler(growth_mb=None)
    off.rss = 1000.0
    assert recycler.after_idle() is False and recycler.kept_because == "recycling is off"


def test_the_gate_waits_for_the_request_in_flight() -> None:
    gate = RequestGate()
    answered = threading.Event()
    inside = threading.Event()

    def slow_request() -> None:
        with gate:
            inside.set()
            answered.wait(5)

    worker = threading.Thread(target=slow_request)
    worker.start()
    inside.wait(5)
    assert gate.close(timeout=0.05) is False  # gave up, and is open again
    answered.set()
    assert gate.close(timeout=5) is True
    worker.join(5)
    assert gate.in_flight == 0
    gate.reopen()


def test_every_idle_spell_ends_with_a_look_even_without_a_collection() -> None:
    now = [0.0]
    looks: list[float] = []
    collector = IdleCollector(clock=lambda: now[0], idle_seconds=2.0, after=lambda: looks.append(now[0]))
    app = collector.wrap(lambda environ, start_response: [b"ok"])
    app({}, lambda *a: None)  # a `down`: a few requests, too few to collect for
    now[0] = 1.0
    assert collector.tick() is False and looks == []
    now[0] = 3.0
    assert collector.tick() is False and looks == [3.0]  # no collection, but a look
    now[0] = 10.0
    assert collector.tick() is False and looks == [3.0]  # once per spell


def test_health_checks_are_not_work_that_keeps_the_server_from_going_idle() -> None:
    now = [0.0]
    looks: list[float] = []
    collector = IdleCollector(clock=lambda: now[0], idle_seconds=2.0, after=lambda: looks.append(now[0]))
    app = collector.wrap(lambda environ, start_response: [b"ok"])
    app({"PATH_INFO": "/"}, lambda *a: None)
    for second in (1.0, 2.0, 2.5):
        now[0] = second
        app({"PATH_INFO": "/_orderpoc/health"}, lambda *a: None)
    assert collector.tick() is False and looks == [2.5]


def _status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_orderpoc/health", timeout=5) as response:
        return dict(json.load(response))


def test_an_emptied_server_starts_afresh_in_place_and_answers_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERPOC_LOCAL_RECYCLE_MB", "0")  # whatever it has grown
    port = free_port()
    status = lifecycle.start(tmp_path, port)
    try:
        emulator = Emulator(tmp_path, port, status)
        sqs = emulator.client("sqs")
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        kept = wait_for(lambda: "sqs_backends.queues" in _status(port)["recycling"]["kept_because"], what="a look")
        assert kept and _status(port)["generation"] == 0
        sqs.delete_queue(QueueUrl=url)
        fresh = wait_for(lambda: (h := _status(port))["generation"] == 1 and h, timeout=30, what="a restart")
        assert (fresh["pid"], fresh["boot_id"], fresh["started_at"]) == (status.pid, status.boot_id, status.started_at)
        assert "QueueUrls" not in sqs.list_queues()  # the same client: its kept-alive connection ended, it sent again
        emulator.client("events").list_event_buses()  # a service whose holdings it cannot see
        foreign = wait_for(lambda: "events" in (h := _status(port))["recycling"]["kept_because"] and h, what="a look")
        assert foreign["generation"] == 1
    finally:
        assert lifecycle.stop(tmp_path, port) is True
    assert status.pid is not None
    assert_all_gone(status.pid)


def test_the_http_server_holds_the_gate_from_request_to_answer() -> None:
    from orderpoc.local.httpserver import make_server

    inside, release = threading.Event(), threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        inside.set()
        release.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    port = free_port()
    httpd = make_server("127.0.0.1", port)
    threading.Thread(target=httpd.serve, args=(slow_app, 0.05), daemon=True).start()
    answers: list[bytes] = []
    client = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(f"http://127.0.0.1:{port}/").read()))
    client.start()
    try:
        assert inside.wait(5)
        assert httpd.gate.close(timeout=0.05) is False  # answering: no restart now
        release.set()
        client.join(5)
        assert answers == [b"done"]
        assert httpd.gate.close(timeout=5) is True
    finally:
        httpd.gate.reopen()
        httpd.shutdown()
        httpd.server_close()
