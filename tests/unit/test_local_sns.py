"""SNS deliveries in the embedded AWS: to SQS (moto's), to the email outbox and to Lambda (ours)."""

from __future__ import annotations

import json
from pathlib import Path

from local_helpers import RECORDER, Emulator, recorded, wait_for

from orderpoc.local.notifications import read_outbox


def _topic(emulator: Emulator, name: str) -> str:
    return str(emulator.client("sns").create_topic(Name=name)["TopicArn"])


def _kind(kind: str) -> dict:
    return {"kind": {"DataType": "String", "StringValue": kind}}


def test_sns_delivers_to_sqs_subscriptions_honouring_filter_policies(emulator: Emulator) -> None:
    topic = _topic(emulator, "events-sqs")
    url, arn = emulator.queue("events-sqs-sub")
    sns = emulator.client("sns")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"FilterPolicy": json.dumps({"kind": ["order"]})}
    )
    sns.publish(TopicArn=topic, Message="skip me", MessageAttributes=_kind("ping"))
    sns.publish(TopicArn=topic, Message="order placed", Subject="New order", MessageAttributes=_kind("order"))
    messages = wait_for(lambda: emulator.drain(url, wait=1), what="the SNS notification in SQS")
    envelopes = [json.loads(m["Body"]) for m in messages]
    assert [(e["Message"], e["Subject"], e["TopicArn"]) for e in envelopes] == [("order placed", "New order", topic)]


def test_a_deleted_subscribed_queue_fails_only_its_own_delivery(emulator: Emulator) -> None:
    """As on AWS, Publish succeeds and the other subscribers still get the message."""
    topic = _topic(emulator, "events-gone")
    sns = emulator.client("sns")
    gone_url, gone_arn = emulator.queue("events-gone-sub")
    live_url, live_arn = emulator.queue("events-live-sub")
    for arn in (gone_arn, live_arn):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    emulator.client("sqs").delete_queue(QueueUrl=gone_url)
    sns.publish(TopicArn=topic, Message="still delivered")
    messages = wait_for(lambda: emulator.drain(live_url, wait=1), what="the notification in the live queue")
    assert [json.loads(m["Body"])["Message"] for m in messages] == ["still delivered"]


def test_email_subscriptions_are_delivered_to_the_local_outbox(emulator: Emulator) -> None:
    topic = _topic(emulator, "events-mail")
    sns = emulator.client("sns")
    sns.subscribe(
        TopicArn=topic,
        Protocol="email",
        Endpoint="ops@example.com",
        Attributes={"FilterPolicy": json.dumps({"kind": ["order"]})},
    )
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="bot@example.com")
    sns.publish(TopicArn=topic, Message="not for ops", MessageAttributes=_kind("ping"))
    sns.publish(TopicArn=topic, Message="Order o-1 stored", Subject="Order stored", MessageAttributes=_kind("order"))
    mails = [m for m in read_outbox(emulator.state_dir, limit=100) if m["topic"] == topic]
    plain = [m for m in mails if m["protocol"] == "email"]
    assert [(m["endpoint"], m["subject"], m["message"]) for m in plain] == [
        ("ops@example.com", "Order stored", "Order o-1 stored")
    ]
    assert plain[0]["timestamp"].endswith("Z")
    as_json = [json.loads(m["message"]) for m in mails if m["protocol"] == "email-json"]
    assert [(d["Type"], d["Message"], d["TopicArn"]) for d in as_json] == [
        ("Notification", "not for ops", topic),
        ("Notification", "Order o-1 stored", topic),
    ]
    # the mail and the server's pid file are the owner's alone (this process's umask lets others read)
    local = emulator.state_dir / "local"
    assert {p.name: p.stat().st_mode & 0o777 for p in local.glob("*") if p.suffix in {".jsonl", ".pid"}} == {
        "outbox.jsonl": 0o600,
        f"server-{emulator.port}.pid": 0o600,
    }


def test_read_outbox_returns_the_latest_entries_oldest_first(emulator: Emulator, tmp_path: Path) -> None:
    assert read_outbox(tmp_path) == []
    topic = _topic(emulator, "events-latest")
    emulator.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    for n in range(3):
        emulator.client("sns").publish(TopicArn=topic, Message=f"m{n}")
    assert [m["message"] for m in read_outbox(emulator.state_dir, limit=2)] == ["m1", "m2"]


def test_lambda_subscriptions_are_invoked_with_the_sns_event(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    fn_arn = emulator.function(
        "sns-target", RECORDER + "def handler(event, context):\n    record(event)\n", env={"OUT": str(out)}
    )
    topic = _topic(emulator, "events-lambda")
    emulator.client("sns").subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    emulator.client("sns").publish(TopicArn=topic, Message="hello", Subject="Hi", MessageAttributes=_kind("order"))
    event = wait_for(lambda: recorded(out), what="the lambda subscriber")[0]["event"]
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    sns = record["Sns"]
    assert (sns["Message"], sns["Subject"], sns["TopicArn"]) == ("hello", "Hi", topic)
    assert sns["MessageAttributes"]["kind"] == {"Type": "String", "Value": "order"}
