"""SendMessage without building the queue's attributes answers as moto does, FIFO queues included."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Queue, SQSBackend

from orderpoc.local import moto_sqs


def _sends(sqs: Any) -> list[Any]:
    standard = sqs.create_queue(QueueName="q")["QueueUrl"]
    fifo = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})[
        "QueueUrl"
    ]
    out: list[Any] = []
    for body in ("a", "b", "a"):
        out.append(sqs.send_message(QueueUrl=standard, MessageBody=body)["MD5OfMessageBody"])
        out.append(sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId="g")["MD5OfMessageBody"])
    sqs.send_message_batch(QueueUrl=standard, Entries=[{"Id": "1", "MessageBody": "c"}])
    for url in (standard, fifo):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        out.append({k: v for k, v in attributes.items() if not k.endswith("Timestamp")})
    return out


def test_sends_and_attributes_answer_as_motos(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_sqs.apply()
    assert Queue.attributes.fget is not None
    monkeypatch.setattr(Queue, "attributes", Queue.attributes.fget.__wrapped__)  # type: ignore[attr-defined]
    monkeypatch.setattr(SQSBackend, "send_message", SQSBackend.send_message.__wrapped__)  # type: ignore[attr-defined]
    with mock_aws():
        expected = _sends(boto3.client("sqs", region_name="us-east-1"))
    monkeypatch.undo()

    walks: list[str] = []
    not_visible = Queue.approximate_number_of_messages_not_visible.fget
    assert not_visible is not None

    def counted(self: Any) -> int:
        walks.append(self.name)
        return not_visible(self)

    monkeypatch.setattr(Queue, "approximate_number_of_messages_not_visible", property(counted))
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        assert _sends(sqs) == expected
        sends = len(walks)
        standard = sqs.get_queue_url(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=standard, MessageBody="d")
        assert len(walks) == sends, "a standard queue's send walked its messages"
        sqs.send_message(QueueUrl=standard.replace("/q", "/q.fifo"), MessageBody="d", MessageGroupId="g")
        assert len(walks) > sends  # a FIFO queue's send reads its attributes, as moto's
    assert expected[-2]["ApproximateNumberOfMessages"] == "4"  # the standard queue: a, b, a, c
    assert expected[-1]["ApproximateNumberOfMessages"] == "2"  # the FIFO queue dropped the repeated "a"


def test_each_receive_gives_a_new_handle_of_motos_kind_that_deletes_the_message() -> None:
    moto_sqs.apply()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="h", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="x")
        handles = [sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"] for _ in range(2)]
        assert handles[0] != handles[1]
        assert all(len(h) == 185 and h.isascii() and h.isalpha() and h.islower() for h in handles)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handles[1])
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
