"""Observe a deployed stack from outside: find its endpoints and a temporary topic subscription.

The temporary SQS queue is named `{stack}-probe-{random}` and tagged with the stack, so `down`
removes one left behind by a killed run.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from orderpoc.aws_errors import unless_not_found
from orderpoc.errors import UserError
from orderpoc.resources.apigateway_stage import invoke_url
from orderpoc.resources.base import Context
from orderpoc.settings import Names

PROBE_PREFIX = "probe-"


@dataclass(frozen=True)
class Endpoints:
    """What send-test-order needs to reach the stack; the API key value lives only in memory."""

    invoke_url: str
    api_key: str
    table: str
    topic_arn: str
    dlq_url: str | None


def find_endpoints(ctx: Context, names: Names, endpoint_url: str | None, stage: str) -> Endpoints:
    apigw = ctx.clients("apigateway")
    apis = [
        a for page in apigw.get_paginator("get_rest_apis").paginate() for a in page["items"] if a["name"] == names.api
    ]
    keys = apigw.get_api_keys(nameQuery=names.api_key, includeValues=True).get("items", [])
    keys = [k for k in keys if k["name"] == names.api_key]
    if not apis or not keys:
        raise UserError(f"stack {ctx.stack!r} has no API or API key here: run `orderpoc up` first")
    api_id = apis[0]["id"]
    # The DLQ only feeds hints: a missing one is no error.
    dlq_url = unless_not_found(lambda: ctx.clients("sqs").get_queue_url(QueueName=names.dlq)["QueueUrl"])
    return Endpoints(
        invoke_url(ctx, api_id, stage, endpoint_url),
        keys[0]["value"],
        names.table,
        ctx.arn("sns", names.topic),
        dlq_url,
    )


class Subscription:
    """A temporary queue subscribed to the topic; receive() yields the notifications' messages."""

    def __init__(self, ctx: Context, queue_url: str, subscription_arn: str) -> None:
        self.sqs = ctx.clients("sqs")
        self.queue_url = queue_url
        self.subscription_arn = subscription_arn
        self.abandoned = False

    def abandon(self) -> None:
        """The AWS it lived in is gone (the local AWS stopped), and the probe with it: nothing to remove."""
        self.abandoned = True

    def receive(self, wait: float = 1.0) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=max(0, min(20, int(wait))),
        )
        messages = response.get("Messages", [])
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        notifications = []
        for message in messages:
            try:  # raw delivery: the body is the published message itself
                body = json.loads(message["Body"])
            except ValueError:
                body = {"raw": message["Body"]}
            if not isinstance(body, dict):
                body = {"raw": body}
            notifications.append({"body": body, "received": time.time()})
        return notifications


@contextmanager
def subscribed(ctx: Context, names: Names, topic_arn: str) -> Iterator[Subscription]:
    """Subscribe a fresh queue to the topic; unsubscribe and delete it afterwards, even on Ctrl-C."""
    sqs, sns = ctx.clients("sqs"), ctx.clients("sns")
    name = f"{ctx.stack}-{PROBE_PREFIX}{secrets.token_hex(4)}"
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": "3600"},
        tags=dict(ctx.tags),
    )["QueueUrl"]
    subscription_arn = None
    subscription: Subscription | None = None
    try:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # On real AWS, SNS may only deliver to a queue whose policy lets this topic send to it.
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        # Raw delivery: the queue gets the message itself, not SNS's signed JSON envelope. The
        # probe reads only the message, so the local AWS need not build and sign an envelope per
        # order (~3% of its server's CPU), and the messages are smaller on AWS too.
        subscription_arn = sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        subscription = Subscription(ctx, queue_url, subscription_arn)
        yield subscription
    finally:
        if subscription is None or not subscription.abandoned:
            remove_probe(ctx, queue_url, subscription_arn)


def remove_probe(ctx: Context, queue_url: str, subscription_arn: str | None) -> None:
    """Unsubscribe, then delete the queue; already gone is fine. Without the subscription's ARN
    (interrupted while subscribing) it is found by the queue's ARN: none may outlive its queue."""
    for arn in [subscription_arn] if subscription_arn else _subscriptions_of(ctx, queue_url):
        unless_not_found(functools.partial(ctx.clients("sns").unsubscribe, SubscriptionArn=arn))
    unless_not_found(lambda: ctx.clients("sqs").delete_queue(QueueUrl=queue_url))


def sweep_probes(ctx: Context) -> list[str]:
    """Remove probe queues (and their subscriptions) a killed send-test-order left behind."""
    urls: list[str] = ctx.clients("sqs").list_queues(QueueNamePrefix=f"{ctx.stack}-{PROBE_PREFIX}").get("QueueUrls", [])
    for url in urls:
        remove_probe(ctx, url, None)
    return urls


def _subscriptions_of(ctx: Context, queue_url: str) -> list[str]:
    attributes = unless_not_found(
        lambda: ctx.clients("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    )
    if attributes is None:
        return []
    queue_arn = attributes["Attributes"]["QueueArn"]
    pages = ctx.clients("sns").get_paginator("list_subscriptions").paginate()
    return [
        sub["SubscriptionArn"]
        for page in pages
        for sub in page["Subscriptions"]
        if sub["Endpoint"] == queue_arn and sub["SubscriptionArn"].startswith("arn:")
    ]
