"""SNS topic and subscription kinds against in-process moto."""

from __future__ import annotations

import pytest

from orderpoc.resources.base import Change
from orderpoc.resources.sns import subscription, topic

NAME, EMAIL = "orderpoc-test-order-events", "ops@example.com"


def desired(ctx, **attributes: str) -> dict:
    return {**attributes, "tags": dict(ctx.tags)}


def sub_desired(topic_arn: str, endpoint: str = EMAIL) -> dict:
    return {"topic_arn": topic_arn, "protocol": "email", "endpoint": endpoint}


def test_find_nothing_is_read_only(ctx, calls):
    assert topic.find(ctx, NAME, desired(ctx)) is None
    assert calls.mutating == []
    assert subscription.find(ctx, EMAIL, sub_desired(ctx.arn("sns", NAME))) is None


def test_create_find_rerun_is_free(ctx, calls):
    want = desired(ctx, display_name="orders")
    created = topic.create(ctx, NAME, want)
    assert created.outputs == {"arn": ctx.arn("sns", NAME), "name": NAME}
    calls.clear()
    live = topic.find(ctx, NAME, want)
    assert live.outputs == created.outputs
    assert topic.drift(live, want) == [] and topic.drift(live, desired(ctx)) == []
    assert calls.mutating == []


def test_attribute_and_tag_drift_fixed(ctx, calls):
    want = desired(ctx, display_name="orders")
    created = topic.create(ctx, NAME, want)
    sns = ctx.clients("sns")
    sns.set_topic_attributes(TopicArn=created.outputs["arn"], AttributeName="DisplayName", AttributeValue="x")
    sns.tag_resource(ResourceArn=created.outputs["arn"], Tags=[{"Key": "orderpoc:stack", "Value": "other"}])
    live = topic.find(ctx, NAME, want)
    assert topic.drift(live, want) == [
        Change("display_name", "x", "orders"),
        Change("tags.orderpoc:stack", "other", "orderpoc-test"),
    ]
    calls.clear()
    assert topic.drift(topic.update(ctx, NAME, live, want), want) == []
    assert calls.mutating == ["SetTopicAttributes", "TagResource"]
    assert topic.drift(topic.find(ctx, NAME, want), want) == []


def test_figures(ctx):
    live = topic.create(ctx, NAME, desired(ctx))
    assert topic.figures(ctx, live) == {"subscriptions": 0, "pending": 0}
    subscription.create(ctx, EMAIL, sub_desired(live.outputs["arn"]))
    assert topic.figures(ctx, live) == {"subscriptions": 1, "pending": 0}  # moto confirms at once


@pytest.mark.parametrize("recorded", [False, True])
def test_topic_delete(ctx, recorded):
    created = topic.create(ctx, NAME, desired(ctx))
    assert topic.delete(ctx, NAME, created.outputs if recorded else None) is True
    assert topic.find(ctx, NAME, desired(ctx)) is None
    assert topic.delete(ctx, NAME, None) is False


def test_subscription_lifecycle(ctx, calls):
    arn = topic.create(ctx, NAME, desired(ctx)).outputs["arn"]
    ctx.clients("sns").subscribe(TopicArn=arn, Protocol="email", Endpoint="someone-else@example.com")
    want = sub_desired(arn)
    assert subscription.find(ctx, EMAIL, want) is None  # another endpoint is not a match
    created = subscription.create(ctx, EMAIL, want)
    assert created.outputs["arn"].startswith(arn + ":")
    assert any(EMAIL in m for m in ctx.messages)  # told to confirm
    calls.clear()
    live = subscription.find(ctx, EMAIL, want)
    assert live.outputs == created.outputs and subscription.drift(live, want) == []
    assert calls.mutating == []
    assert subscription.delete(ctx, EMAIL, live.outputs) is True
    assert subscription.find(ctx, EMAIL, want) is None
    assert subscription.delete(ctx, EMAIL, live.outputs) is False


def test_subscription_delete_without_real_arn_is_noop(ctx, calls):
    arn = topic.create(ctx, NAME, desired(ctx)).outputs["arn"]
    subscription.create(ctx, EMAIL, sub_desired(arn))
    calls.clear()
    assert subscription.delete(ctx, EMAIL, None) is False
    assert subscription.delete(ctx, EMAIL, {"arn": "PendingConfirmation"}) is False
    assert calls.names == []
    topic.delete(ctx, NAME, None)  # ...the topic takes its subscriptions with it
    assert ctx.clients("sns").list_subscriptions()["Subscriptions"] == []
