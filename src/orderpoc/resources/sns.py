"""SNS topic for order events, and an optional subscription to it (e.g. an operator's email)."""

from __future__ import annotations

from typing import Any

from orderpoc.aws_errors import error_code, is_not_found, unless_not_found
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource
from orderpoc.resources.util import as_text, aws_name, changed_tags, dict_to_tags, paginate, snake, tags_to_dict, typed


def _read(attributes: dict[str, str]) -> Config:
    return {snake(k): typed(v) for k, v in attributes.items()}


def _attributes_of(config: Config) -> dict[str, str]:
    """The config's topic attributes (all but tags) in SNS's names and strings."""
    return {aws_name(k): as_text(v) for k, v in config.items() if k != "tags" and not k.startswith("_")}


class Topic(Resource):
    """Config: the topic's attributes in snake_case (kms_master_key_id...) and tags."""

    kind = "sns_topic"
    replace_on = frozenset({"fifo_topic"})

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        # Not create_topic: it is idempotent, but it is a write, and find must stay read-only.
        arn = ctx.arn("sns", name)
        attributes = _attributes(ctx, arn)
        if attributes is None:
            return None
        tags = tags_to_dict(ctx.clients("sns").list_tags_for_resource(ResourceArn=arn).get("Tags"))
        return Live({"arn": arn, "name": name}, {**_read(attributes), "tags": tags})

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"arn": ctx.arn("sns", name), "name": name}

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        attributes = _attributes_of(desired)
        arn = ctx.clients("sns").create_topic(Name=name, Attributes=attributes, Tags=dict_to_tags(desired["tags"]))[
            "TopicArn"
        ]
        return Live({"arn": arn, "name": name}, {**_read(attributes), "tags": dict(desired["tags"])})

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        sns, arn, have = ctx.clients("sns"), live.outputs["arn"], live.config
        changed = {k: v for k, v in _read(_attributes_of(desired)).items() if have.get(k) != v}
        for key, value in _attributes_of(changed).items():  # the API sets one attribute per call
            sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
        tags = changed_tags(desired["tags"], have["tags"])
        if tags:
            sns.tag_resource(ResourceArn=arn, Tags=dict_to_tags(tags))
        return Live(live.outputs, {**have, **changed, "tags": {**have["tags"], **tags}})

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        # DeleteTopic succeeds on a missing topic too, so ask first to report "already gone".
        arn = (outputs or {}).get("arn") or ctx.arn("sns", name)
        if _attributes(ctx, arn) is None:
            return False
        ctx.clients("sns").delete_topic(TopicArn=arn)  # also removes its subscriptions
        return True

    def figures(self, ctx: Context, live: Live) -> dict[str, int]:
        # Counted from the list, not SubscriptionsConfirmed/Pending: AWS refreshes those counters
        # lazily and moto never does.
        subs = paginate(
            ctx.clients("sns"), "list_subscriptions_by_topic", "Subscriptions", TopicArn=live.outputs["arn"]
        )
        arns = [sub["SubscriptionArn"] for sub in subs]
        confirmed = sum(arn.startswith("arn:") for arn in arns)
        return {"subscriptions": confirmed, "pending": len(arns) - confirmed}


class Subscription(Resource):
    """A subscription, named by its endpoint. Nothing to update: it exists or it does not.

    Email subscriptions stay "PendingConfirmation" (that is the ARN SNS lists) until the recipient
    clicks the link; only a real ARN can be unsubscribed.
    """

    kind = "sns_subscription"

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"arn": UNKNOWN}

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        sns = ctx.clients("sns")
        subs = paginate(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=desired["topic_arn"])
        ours = (s for s in subs if s["Protocol"] == desired["protocol"] and s["Endpoint"] == desired["endpoint"])
        sub = unless_not_found(lambda: next(ours, None))  # None too when there is no topic, so no subscription
        if sub is None:
            return None
        config = {"topic_arn": sub["TopicArn"], "protocol": sub["Protocol"], "endpoint": sub["Endpoint"]}
        return Live({"arn": sub["SubscriptionArn"]}, config)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        arn = ctx.clients("sns").subscribe(
            TopicArn=desired["topic_arn"],
            Protocol=desired["protocol"],
            Endpoint=desired["endpoint"],
            ReturnSubscriptionArn=True,  # the real ARN even while confirmation is pending
        )["SubscriptionArn"]
        if desired["protocol"] == "email":
            ctx.say(f"confirm the subscription from the email sent to {desired['endpoint']}")
        config = {k: desired[k] for k in ("topic_arn", "protocol", "endpoint")}
        return Live({"arn": arn}, config)

    def drift(self, live: Live, desired: Config) -> list[Change]:
        return []  # find matched topic, protocol and endpoint: nothing else to compare

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        return live  # never drifts (see drift), so never called

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        # As delete() sees it: only a confirmed subscription (a real ARN) that still answers.
        arn = (outputs or {}).get("arn", "")
        if not arn.startswith("arn:"):
            return False
        try:
            ctx.clients("sns").get_subscription_attributes(SubscriptionArn=arn)
        except Exception as exc:
            if is_not_found(exc) or error_code(exc) == "InvalidParameter":
                return False
            raise
        return True

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        # Without recorded outputs the topic, hence the subscription, is unknown (the name is only the
        # endpoint). That is fine: deleting the topic deletes its subscriptions, pending ones included.
        arn = (outputs or {}).get("arn", "")
        if not arn.startswith("arn:"):
            return False
        sns = ctx.clients("sns")
        try:
            sns.get_subscription_attributes(SubscriptionArn=arn)  # Unsubscribe of a missing ARN succeeds
            sns.unsubscribe(SubscriptionArn=arn)
        except Exception as exc:
            if is_not_found(exc):
                return False
            if error_code(exc) == "InvalidParameter":  # still pending: it goes with the topic
                ctx.say("subscription not confirmed: it is removed with the topic")
                return False
            raise
        return True


def _attributes(ctx: Context, arn: str) -> dict[str, Any] | None:
    return unless_not_found(lambda: dict(ctx.clients("sns").get_topic_attributes(TopicArn=arn)["Attributes"]))


topic = Topic()
subscription = Subscription()
