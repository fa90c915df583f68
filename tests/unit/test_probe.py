"""The probe subscription never outlives its queue, even when its ARN was never learnt."""

from __future__ import annotations

import json

from orderpoc.probe import remove_probe, subscribed, sweep_probes


def _probe(ctx, name: str) -> tuple[str, str]:
    sqs, sns = ctx.clients("sqs"), ctx.clients("sns")
    topic_arn = sns.create_topic(Name=f"{ctx.stack}-order-events")["TopicArn"]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url, arn


def _subscribed(ctx, queue_arn: str) -> list[str]:
    return [
        s["SubscriptionArn"]
        for s in ctx.clients("sns").list_subscriptions()["Subscriptions"]
        if s["Endpoint"] == queue_arn
    ]


def test_remove_probe_without_the_arn_unsubscribes_by_queue(ctx):
    url, arn = _probe(ctx, f"{ctx.stack}-probe-1")
    remove_probe(ctx, url, None)
    assert _subscribed(ctx, arn) == []
    assert ctx.clients("sqs").list_queues(QueueNamePrefix=f"{ctx.stack}-probe-").get("QueueUrls", []) == []
    remove_probe(ctx, url, None)  # already gone is fine


def test_sweep_removes_left_probes_and_their_subscriptions(ctx):
    _, first = _probe(ctx, f"{ctx.stack}-probe-a")
    _, second = _probe(ctx, f"{ctx.stack}-probe-b")
    assert len(sweep_probes(ctx)) == 2
    assert _subscribed(ctx, first) == _subscribed(ctx, second) == []


def test_the_probe_reads_each_published_message_delivered_raw(ctx):
    sns = ctx.clients("sns")
    topic = sns.create_topic(Name=f"{ctx.stack}-order-events")["TopicArn"]
    with subscribed(ctx, None, topic) as subscription:
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription.subscription_arn)["Attributes"]
        assert attributes["RawMessageDelivery"] == "true"  # no signed envelope per message
        sns.publish(TopicArn=topic, Message=json.dumps({"orderId": "o-1"}), Subject="Order o-1")
        sns.publish(TopicArn=topic, Message="not json")
        notes = subscription.receive(wait=1)
    assert [note["body"] for note in notes] == [{"orderId": "o-1"}, {"raw": "not json"}]
