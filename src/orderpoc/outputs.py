"""`orderpoc outputs`: what a caller of the deployed stack needs, read from AWS (read-only).

Every value is looked up by its deterministic name, so it works without a state file. The API key's
value is read only when asked for (includeValues), never written anywhere.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from orderpoc import stack
from orderpoc.aws_errors import unless_not_found
from orderpoc.errors import UserError
from orderpoc.resources.apigateway_stage import invoke_url
from orderpoc.resources.base import Context
from orderpoc.settings import Names
from orderpoc.trace import sample_order

KEY_PLACEHOLDER = "$ORDERPOC_API_KEY"


@dataclass
class StackOutputs:
    stack: str
    target: str
    region: str
    account: str
    invoke_url: str
    api_id: str
    api_key_id: str
    api_key_name: str
    api_key_value: str | None
    resources: dict[str, dict[str, str | None]]  # table, queue, dlq, failures, topic: name and ARN

    @property
    def post_order_url(self) -> str:
        return f"{self.invoke_url}/order"

    @property
    def get_order_url(self) -> str:
        return f"{self.invoke_url}/order/{{orderId}}"

    @property
    def curl(self) -> str:
        """A ready-to-paste command posting a valid order (the key's value only when it was read)."""
        key = (
            shlex.quote(f"x-api-key: {self.api_key_value}") if self.api_key_value else f'"x-api-key: {KEY_PLACEHOLDER}"'
        )
        body = shlex.quote(json.dumps(sample_order(), separators=(",", ":")))
        return (
            f"curl -sS -X POST {shlex.quote(self.post_order_url)} -H {key} "
            f"-H 'content-type: application/json' -d {body}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "target": self.target,
            "region": self.region,
            "account": self.account,
            "invoke_url": self.invoke_url,
            "urls": {"post_order": self.post_order_url, "get_order": self.get_order_url},
            "api": {"id": self.api_id},
            "api_key": {"id": self.api_key_id, "name": self.api_key_name, "value": self.api_key_value},
            **self.resources,
            "curl": self.curl,
        }


def read(ctx: Context, names: Names, target: str, endpoint_url: str | None, *, show_key: bool) -> StackOutputs:
    apigw = ctx.clients("apigateway")
    apis = [
        a for page in apigw.get_paginator("get_rest_apis").paginate() for a in page["items"] if a["name"] == names.api
    ]
    keys = apigw.get_api_keys(nameQuery=names.api_key, includeValues=show_key).get("items", [])
    keys = [k for k in keys if k["name"] == names.api_key]
    if not apis or not keys:
        raise UserError(f"stack {ctx.stack!r} is not deployed here (no API or API key): run `orderpoc up` first")
    api_id = apis[0]["id"]
    return StackOutputs(
        stack=ctx.stack,
        target=target,
        region=ctx.region,
        account=ctx.account,
        invoke_url=invoke_url(ctx, api_id, stack.STAGE, endpoint_url),
        api_id=api_id,
        api_key_id=keys[0]["id"],
        api_key_name=names.api_key,
        api_key_value=keys[0].get("value") if show_key else None,
        resources={
            "table": _table(ctx, names.table),
            "queue": _queue(ctx, names.queue),
            "dlq": _queue(ctx, names.dlq),
            "failures_queue": _queue(ctx, names.notifier_failures),
            "topic": _topic(ctx, names.topic),
        },
    )


def _table(ctx: Context, name: str) -> dict[str, str | None]:
    table = unless_not_found(lambda: ctx.clients("dynamodb").describe_table(TableName=name)["Table"]) or {}
    return {"name": name, "arn": table.get("TableArn"), "stream_arn": table.get("LatestStreamArn")}


def _queue(ctx: Context, name: str) -> dict[str, str | None]:
    sqs = ctx.clients("sqs")
    url = unless_not_found(lambda: sqs.get_queue_url(QueueName=name)["QueueUrl"])
    arn = None
    if url:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"name": name, "url": url, "arn": arn}


def _topic(ctx: Context, name: str) -> dict[str, str | None]:
    arn = ctx.arn("sns", name)
    found = unless_not_found(lambda: ctx.clients("sns").get_topic_attributes(TopicArn=arn))
    return {"name": name, "arn": arn if found else None}
