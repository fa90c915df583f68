"""SQS queue kind against in-process moto."""

from __future__ import annotations

import json

import pytest

from orderpoc.errors import ResourceError
from orderpoc.resources.sqs import queue

NAME, DLQ = "orderpoc-test-orders", "orderpoc-test-orders-dlq"


def desired(ctx, redrive: dict | None = None, **attributes: str) -> dict:
    attrs = {
        "VisibilityTimeout": "180",
        "MessageRetentionPeriod": "1209600",
        "SqsManagedSseEnabled": "true",
        "ReceiveMessageWaitTimeSeconds": "20",
        **attributes,
    }
    if redrive:
        attrs["RedrivePolicy"] = redrive
    return {"attributes": attrs, "tags": dict(ctx.tags)}


def test_find_nothing(ctx):
    assert queue.find(ctx, NAME, desired(ctx)) is None


def test_create_find_rerun_is_free(ctx, calls):
    want = desired(ctx)
    created = queue.create(ctx, NAME, want)
    assert created.outputs == {
        "url": ctx.clients("sqs").get_queue_url(QueueName=NAME)["QueueUrl"],
        "arn": f"arn:aws:sqs:us-east-1:{ctx.account}:{NAME}",
        "name": NAME,
    }
    calls.clear()
    live = queue.find(ctx, NAME, want)
    assert live.outputs == created.outputs
    assert "ApproximateNumberOfMessages" in live.config["attributes"]  # observed has more: not compared
    assert queue.drift(live, want) == []
    assert calls.mutating == []


def test_redrive_policy_round_trip(ctx, calls):
    dlq = queue.create(ctx, DLQ, desired(ctx))
    want = desired(ctx, redrive={"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 5})
    queue.create(ctx, NAME, want)
    raw = ctx.clients("sqs").get_queue_attributes(
        QueueUrl=queue.find(ctx, NAME, want).outputs["url"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    assert json.loads(raw["RedrivePolicy"]) == want["attributes"]["RedrivePolicy"]  # written as JSON
    calls.clear()
    live = queue.find(ctx, NAME, want)
    assert live.config["attributes"]["RedrivePolicy"] == {
        "deadLetterTargetArn": dlq.outputs["arn"],
        "maxReceiveCount": 5,
    }
    assert queue.drift(live, want) == [] and calls.mutating == []
    changed = desired(ctx, redrive={"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 3})
    assert queue.drift(live, changed) == ["attributes.RedrivePolicy.maxReceiveCount: 5 -> 3"]
    queue.update(ctx, NAME, live, changed)
    assert queue.drift(queue.find(ctx, NAME, changed), changed) == []


def test_attribute_and_tag_drift_fixed(ctx, calls):
    want = desired(ctx)
    created = queue.create(ctx, NAME, want)
    sqs = ctx.clients("sqs")
    sqs.set_queue_attributes(
        QueueUrl=created.outputs["url"], Attributes={"VisibilityTimeout": "30", "DelaySeconds": "5"}
    )
    sqs.tag_queue(QueueUrl=created.outputs["url"], Tags={"orderpoc:stack": "other"})
    live = queue.find(ctx, NAME, want)
    assert queue.drift(live, want) == [
        "attributes.VisibilityTimeout: 30 -> 180",
        "tags.orderpoc:stack: other -> orderpoc-test",
    ]
    calls.clear()
    updated = queue.update(ctx, NAME, live, want)
    assert queue.drift(updated, want) == []
    assert calls.mutating == ["SetQueueAttributes", "TagQueue"]
    after = queue.find(ctx, NAME, want)
    assert queue.drift(after, want) == []
    assert after.config["attributes"]["DelaySeconds"] == "5"  # not desired, so not touched


def test_create_waits_out_queue_deleted_recently(ctx, clock):
    """An `up` right after a `down`: SQS refuses the name for 60 s; create waits that out, saying so."""
    attempts = clock.refuse_until(
        ctx.clients,
        "before-call.sqs.CreateQueue",
        61,
        "AWS.SimpleQueueService.QueueDeletedRecently",
        "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
    )
    live = queue.create(ctx, NAME, desired(ctx))
    assert live.outputs["name"] == NAME
    assert len(attempts) > 1 and attempts[-1] >= 61
    waits = [m for m in ctx.messages if m.startswith("waiting for SQS to allow the name again")]
    assert len(waits) == len(attempts) - 1
    assert waits[-1].endswith(f"… {attempts[-2]:.0f} s")


def test_create_gives_up_when_the_name_stays_refused(ctx, clock):
    clock.refuse_until(ctx.clients, "before-call.sqs.CreateQueue", 10_000, "QueueDeletedRecently", "wait 60 seconds")
    with pytest.raises(ResourceError, match="gave up waiting for SQS to allow the name again .* after 120 s"):
        queue.create(ctx, NAME, desired(ctx))
    assert clock.seconds == pytest.approx(120)


def test_figures(ctx):
    live = queue.create(ctx, NAME, desired(ctx))
    sqs = ctx.clients("sqs")
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=live.outputs["url"], MessageBody=body)
    sqs.receive_message(QueueUrl=live.outputs["url"], MaxNumberOfMessages=1)
    assert queue.figures(ctx, live) == {"messages": 2, "in_flight": 1}


@pytest.mark.parametrize("recorded", [False, True])
def test_delete(ctx, recorded):
    created = queue.create(ctx, NAME, desired(ctx))
    assert queue.delete(ctx, NAME, created.outputs if recorded else None) is True
    assert queue.find(ctx, NAME, desired(ctx)) is None
    assert queue.delete(ctx, NAME, None) is False
