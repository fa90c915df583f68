"""SQS standard queue: the order queue, its dead-letter queue, and the notifier's failure queue."""

from __future__ import annotations

import json
from typing import Any

from orderpoc.aws import SQS_NAME_REUSE_BUDGET, error_code, is_not_found, unless_not_found, wait_out
from orderpoc.resources.base import Config, Context, Live, Outputs, Resource, diff_config
from orderpoc.resources.util import changed_tags

# Attributes whose value SQS takes and returns as a JSON string; the desired config holds a dict.
_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def _read(attributes: dict[str, str]) -> dict[str, Any]:
    """SQS's attribute strings -> the desired config's shape (JSON attributes parsed)."""
    out: dict[str, Any] = dict(attributes)
    for key in _JSON_ATTRIBUTES:
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    if isinstance(out.get("RedrivePolicy"), dict) and "maxReceiveCount" in out["RedrivePolicy"]:
        # AWS returns it as a number, some emulators as a string; the desired config says int.
        out["RedrivePolicy"] = {**out["RedrivePolicy"], "maxReceiveCount": int(out["RedrivePolicy"]["maxReceiveCount"])}
    return out


def _write(attributes: dict[str, Any]) -> dict[str, str]:
    """The desired shape -> SQS's strings: dicts as JSON, True as "true", 180 as "180"."""

    def text(value: Any) -> str:
        if isinstance(value, dict):
            return json.dumps(value)
        return str(value).lower() if isinstance(value, bool) else str(value)

    return {k: text(v) for k, v in attributes.items()}


def _name_reuse(exc: BaseException) -> str | None:
    # "AWS.SimpleQueueService.QueueDeletedRecently" (query-compatible code) or the bare name.
    if error_code(exc).endswith("QueueDeletedRecently"):
        return "SQS to allow the name again (60 s after a delete)"
    return None


class Queue(Resource):
    kind = "sqs_queue"

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        sqs = ctx.clients("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        except Exception as exc:
            if is_not_found(exc):  # AWS.SimpleQueueService.NonExistentQueue
                return None
            raise
        outputs = {"url": url, "arn": attributes["QueueArn"], "name": name}
        return Live(outputs, {"attributes": _read(attributes), "tags": dict(tags)})

    def drift(self, live: Live, desired: Config) -> list[str]:
        # Only desired attributes are compared (observed has many more), in the observed shape.
        return diff_config({**desired, "attributes": _read(_write(desired["attributes"]))}, live.config)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        sqs = ctx.clients("sqs")

        # An `up` right after a `down`: SQS refuses the name for 60 s after the queue was deleted.
        url = wait_out(
            lambda: sqs.create_queue(QueueName=name, Attributes=_write(desired["attributes"]), tags=desired["tags"])[
                "QueueUrl"
            ],
            awaiting=_name_reuse,
            budget=SQS_NAME_REUSE_BUDGET,
            name=name,
            say=ctx.say,
        )
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        config = {"attributes": _read(_write(desired["attributes"])), "tags": dict(desired["tags"])}
        return Live({"url": url, "arn": arn, "name": name}, config)

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        sqs = ctx.clients("sqs")
        url = live.outputs["url"]
        want, have = _read(_write(desired["attributes"])), live.config["attributes"]
        changed = {k: v for k, v in want.items() if have.get(k) != v}
        if changed:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=_write(changed))
        tags = changed_tags(desired["tags"], live.config["tags"])
        if tags:
            sqs.tag_queue(QueueUrl=url, Tags=tags)
        config = {"attributes": {**have, **changed}, "tags": {**live.config["tags"], **tags}}
        return Live(live.outputs, config)

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        sqs = ctx.clients("sqs")
        # The URL is looked up even when recorded: it proves the queue still exists.
        return (
            unless_not_found(lambda: sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"]))
            is not None
        )

    def figures(self, ctx: Context, live: Live) -> dict[str, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = ctx.clients("sqs").get_queue_attributes(QueueUrl=live.outputs["url"], AttributeNames=names)
        values = attributes["Attributes"]
        return {"messages": int(values[names[0]]), "in_flight": int(values[names[1]])}


queue = Queue()
