"""SQS queue kind against in-process moto."""

from __future__ import annotations

import json

import pytest

from orderpoc.errors import ResourceError
from orderpoc.resources.base import Change
from orderpoc.resources.sqs import queue

NAME, DLQ = "orderpoc-test-orders", "orderpoc-test-orders-dlq"


def desired(ctx, redrive: dict | None = None, **attributes: object) -> dict:
    config = {
        "visibility_timeout": 180,
        "message_retention_period": 1209600,
        "sqs_managed_sse_enabled": True,
        "receive_message_wait_time_seconds": 20,
        **attributes,
        "tags": dict(ctx.tags),
    }
    if redrive:
        config["redrive_policy"] = redrive
    return config


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
    assert "approximate_number_of_messages" in live.config  # observed has more: not compared
    assert live.config["visibility_timeout"] == 180 and live.config["sqs_managed_sse_enabled"] is True
    assert queue.drift(live, want) == []
    assert calls.mutating == []


def test_redrive_policy_round_trip(ctx, calls):
    dlq = queue.create(ctx, DLQ, desired(ctx))
    want = desired(ctx, redrive={"dead_letter_target_arn": dlq.outputs["arn"], "max_receive_count": 5})
    queue.create(ctx, NAME, want)
    raw = ctx.clients("sqs").get_queue_attributes(
        QueueUrl=queue.find(ctx, NAME, want).outputs["url"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    # written as JSON, in SQS's own camelCase
    assert json.loads(raw["RedrivePolicy"]) == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 5}
    calls.clear()
    live = queue.find(ctx, NAME, want)
    assert live.config["redrive_policy"] == {"dead_letter_target_arn": dlq.outputs["arn"], "max_receive_count": 5}
    assert queue.drift(live, want) == [] and calls.mutating == []
    changed = desired(ctx, redrive={"dead_letter_target_arn": dlq.outputs["arn"], "max_receive_count": 3})
    assert queue.drift(live, changed) == [Change("redrive_policy.max_receive_count", 5, 3)]
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
        Change("visibility_timeout", 30, 180),
        Change("tags.orderpoc:stack", "other", "orderpoc-test"),
    ]
    calls.clear()
    updated = queue.update(ctx, NAME, live, want)
    assert queue.drift(updated, want) == []
    assert calls.mutating == ["SetQueueAttributes", "TagQueue"]
    after = queue.find(ctx, NAME, want)
    assert queue.drift(after, want) == []
    assert after.config["delay_seconds"] == 5  # not desired, so not touched


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
