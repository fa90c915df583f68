"""The probe subscription never outlives its queue, even when its ARN was never learnt."""

from __future__ import annotations

from orderpoc.probe import remove_probe, sweep_probes


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
