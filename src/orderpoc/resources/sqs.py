"""SQS standard queue: the order queue, its dead-letter queue, and the notifier's failure queue."""

from __future__ import annotations

import json

from orderpoc.aws_errors import error_code, is_not_found, unless_not_found
from orderpoc.aws_retry import SQS_NAME_REUSE_BUDGET, wait_out
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource, diff_config
from orderpoc.resources.util import as_text, aws_name, changed_tags, from_aws, snake, to_aws, typed

# Attributes whose value SQS takes and returns as a JSON string (camelCase inside); the config holds a dict.
_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def _read(attributes: dict[str, str]) -> Config:
    """SQS's attribute strings -> the config's shape: snake_case keys, typed values, JSON parsed."""
    out: Config = {}
    for key, text in attributes.items():
        if key in _JSON_ATTRIBUTES and isinstance(text, str):
            out[snake(key)] = {k: typed(v) for k, v in from_aws(json.loads(text)).items()}
        else:
            out[snake(key)] = typed(text)
    return out


def _write(config: Config) -> dict[str, str]:
    """The config's attributes (everything but tags) -> SQS's names and strings."""
    attributes = {}
    for key, value in config.items():
        if key == "tags" or key.startswith("_"):
            continue
        name = aws_name(key)
        attributes[name] = json.dumps(to_aws(value, camel=True)) if name in _JSON_ATTRIBUTES else as_text(value)
    return attributes


def _name_reuse(exc: BaseException) -> str | None:
    # "AWS.SimpleQueueService.QueueDeletedRecently" (query-compatible code) or the bare name.
    if error_code(exc).endswith("QueueDeletedRecently"):
        return "SQS to allow the name again (60 s after a delete)"
    return None


class Queue(Resource):
    """Config: the queue's attributes in snake_case (visibility_timeout, redrive_policy...) and tags."""

    kind = "sqs_queue"
    replace_on = frozenset({"fifo_queue"})  # a standard queue never becomes FIFO, nor back

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
        # Only desired attributes are compared: the observed ones (queue_arn, message counts...) are more.
        return Live(outputs, {**_read(attributes), "tags": dict(tags)})

    def drift(self, live: Live, desired: Config) -> list[Change]:
        # Compared as SQS would store them: "180" and 180 are the same timeout.
        return diff_config({**_read(_write(desired)), "tags": desired["tags"]}, live.config)

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"url": UNKNOWN, "arn": ctx.arn("sqs", name), "name": name}  # URLs differ by endpoint

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        sqs = ctx.clients("sqs")

        # An `up` right after a `down`: SQS refuses the name for 60 s after the queue was deleted.
        url = wait_out(
            lambda: sqs.create_queue(QueueName=name, Attributes=_write(desired), tags=desired["tags"])["QueueUrl"],
            awaiting=_name_reuse,
            budget=SQS_NAME_REUSE_BUDGET,
            name=name,
            say=ctx.say,
        )
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Live({"url": url, "arn": arn, "name": name}, {**_read(_write(desired)), "tags": dict(desired["tags"])})

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        sqs = ctx.clients("sqs")
        url = live.outputs["url"]
        want, have = _read(_write(desired)), live.config
        changed = {k: v for k, v in want.items() if have.get(k) != v}
        if changed:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=_write(changed))
        tags = changed_tags(desired["tags"], have["tags"])
        if tags:
            sqs.tag_queue(QueueUrl=url, Tags=tags)
        return Live(live.outputs, {**have, **changed, "tags": {**have["tags"], **tags}})

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
