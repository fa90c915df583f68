"""What the stack tag finds that the stack does not declare and the state does not record: `plan`
shows it as a delete, `up` and `down` delete it (a lost state file, a resource an older version of
the stack made, a crash between a create and its state write).

Deleting a live declared resource is the worst thing this tool could do, so an ARN is an orphan
only when all of these hold:
- it carries `orderpoc:stack={stack}` (asked of the tagging API, and checked again on its answer);
- it is in this partition, account and region, and its shape is one orderpoc knows how to delete
  (`classify`); anything else is reported, never deleted;
- it is none of the known resources (declared, with their live, planned and recorded outputs, and
  every state entry): not by exact ARN, not by id, not by kind and name. A twin with a declared
  name (a second `{stack}-api`) is left to `down`, which deletes by name until none is left.
- it still exists (the kind's read-only `exists`): the tagging index lags behind deletes on AWS.
Probe queues are send-test-order's (a running one must keep its queue); `down` sweeps them itself.

Seen through the Resource Groups Tagging API: queues, topics, functions, tables, log groups and, on
AWS, the API Gateway REST APIs, stages, keys and usage plans (moto lists none of those four).
GetResources does not support IAM roles: they are listed by the name prefix `{stack}-` and their
tags read, one call per role with that prefix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from orderpoc.aws_errors import unless_not_found
from orderpoc.graph import concurrently
from orderpoc.probe import PROBE_PREFIX
from orderpoc.resources.base import Context
from orderpoc.resources.util import paginate, tags_to_dict
from orderpoc.settings import TAG_KEY

# Dependents first, as a delete must go: a stage before its API, a function before its role.
SWEEP_ORDER = (
    "sns_subscription",
    "usage_plan",
    "api_key",
    "api_stage",
    "rest_api",
    "lambda_function",
    "iam_role",
    "log_group",
    "dynamodb_table",
    "sns_topic",
    "sqs_queue",
)
SWEPT_SERVICES = frozenset({"apigateway", "dynamodb", "iam", "lambda", "logs", "sns", "sqs"})
EMAIL_PROTOCOLS = frozenset({"email", "email-json"})  # what `--notify-email` subscribes
IDENTIFIERS = ("arn", "id", "uuid")  # the outputs that name one resource (a name may be shared)


@dataclass(frozen=True)
class Tagged:
    """A tagged ARN as the kind's delete() takes it: its name and the outputs it goes by."""

    arn: str
    kind: str
    name: str
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Known:
    """What must never be swept: (kind, name) pairs, and every ARN and id of the known resources."""

    names: set[tuple[str, str]] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)

    def add(self, kind: str, name: str, outputs: Iterable[Any]) -> None:
        self.names.add((kind, name))
        for value in outputs:
            if isinstance(value, str) and value:
                self.ids.update({value, _bare(value)})

    def covers(self, tagged: Tagged) -> bool:
        ids = {tagged.arn, *(str(tagged.outputs[k]) for k in IDENTIFIERS if tagged.outputs.get(k))}
        return bool(ids & self.ids) or (tagged.kind, tagged.name) in self.names


@dataclass
class Found:
    orphans: list[Tagged]  # dependents first
    unknown: list[str]  # tagged ARNs orderpoc does not know how to delete: reported only


Pick = Callable[[Known], Found]


def search(ctx: Context, email_topic: str | None = None) -> Pick:
    """Read-only: this stack's tagged resources, read now; the function returned picks those that
    nothing known covers (the plan reads them while it finds the declared ones).

    email_topic: the stack's topic, whose email subscriptions the stack owns (the email setting is
    known): one that is not declared is a leftover too (a lost state forgot it). SNS subscriptions
    carry no tags; other protocols' are someone else's and left alone."""
    arns, emails = concurrently(
        lambda: tagged_arns(ctx), lambda: _email_subscriptions(ctx, email_topic) if email_topic else []
    )
    classified = [(arn, classify(ctx, arn)) for arn in arns] + [(sub.arn, sub) for sub in emails]

    def pick(known: Known) -> Found:
        orphans, unknown = [], []
        for arn, tagged in classified:
            if tagged is None:
                unknown.append(arn)
            elif tagged.name and not _is_probe(ctx, tagged) and not known.covers(tagged):
                orphans.append(tagged)
        orphans.sort(key=lambda t: (SWEEP_ORDER.index(t.kind), t.name))
        return Found(orphans, unknown)

    return pick


def _email_subscriptions(ctx: Context, topic_arn: str) -> list[Tagged]:
    """The topic's confirmed email subscriptions (a pending one cannot be unsubscribed: it goes
    with the topic, or expires)."""
    sns = ctx.clients("sns")
    subs = unless_not_found(
        lambda: list(paginate(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn))
    )
    return [
        Tagged(sub["SubscriptionArn"], "sns_subscription", sub["Endpoint"], {"arn": sub["SubscriptionArn"]})
        for sub in subs or []
        if sub.get("Protocol") in EMAIL_PROTOCOLS and str(sub.get("SubscriptionArn", "")).startswith("arn:")
    ]


def tagged_arns(ctx: Context) -> list[str]:
    """Every ARN tagged with this stack: the tagging API's answer, then the IAM roles it cannot see
    (both asked at once: the search is as long as the plan's longest chain of reads)."""
    resources, roles = concurrently(lambda: _tagged_resources(ctx), lambda: _tagged_roles(ctx))
    return resources + roles


def _tagged_resources(ctx: Context) -> list[str]:
    arns: list[str] = []
    pages = (
        ctx.clients("resourcegroupstaggingapi")
        .get_paginator("get_resources")
        .paginate(TagFilters=[{"Key": TAG_KEY, "Values": [ctx.stack]}])
    )
    for page in pages:
        for item in page.get("ResourceTagMappingList", []):
            if tags_to_dict(item.get("Tags")).get(TAG_KEY) == ctx.stack:  # the filter, checked again
                arns.append(_bare(item["ResourceARN"]))
    return arns


def _tagged_roles(ctx: Context) -> list[str]:
    iam = ctx.clients("iam")
    roles = [r for r in paginate(iam, "list_roles", "Roles") if r["RoleName"].startswith(f"{ctx.stack}-")]

    def tags_of(role: dict[str, Any]) -> dict[str, str]:
        answer = unless_not_found(functools.partial(iam.list_role_tags, RoleName=role["RoleName"]))
        return tags_to_dict((answer or {}).get("Tags"))

    tags = concurrently(*(functools.partial(tags_of, role) for role in roles))  # one call per role
    return [role["Arn"] for role, tag in zip(roles, tags, strict=True) if tag.get(TAG_KEY) == ctx.stack]


def of_a_swept_service(arn: str) -> bool:
    """Whether a delete of orderpoc's could be what makes this ARN go (an S3 bucket never will)."""
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2] in SWEPT_SERVICES


def classify(ctx: Context, arn: str) -> Tagged | None:
    """The kind, name and outputs an ARN stands for; None for a shape orderpoc does not delete.

    An API Gateway ARN holds only an id: its name is read (one call). A name of "" means it is
    gone already (nothing to sweep)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] != ctx.partition:
        return None
    _, _, service, region, account, resource = parts
    if service == "iam":
        if region or account != ctx.account or not resource.startswith("role/") or resource.count("/") != 1:
            return None  # a role with a path is not one orderpoc made
        return Tagged(arn, "iam_role", resource[len("role/") :], {"arn": arn})
    if region != ctx.region:
        return None
    if service == "apigateway":
        return _api_gateway(ctx, arn, resource) if not account else None
    if account != ctx.account:
        return None
    if service == "sqs" and _plain(resource):
        return Tagged(arn, "sqs_queue", resource, {"arn": arn, "name": resource})
    if service == "sns" and _plain(resource):
        return Tagged(arn, "sns_topic", resource, {"arn": arn, "name": resource})
    if service == "lambda":
        prefix, _, name = resource.partition(":")
        ok = prefix == "function" and _plain(name)  # not an alias or version (a qualifier)
        return Tagged(arn, "lambda_function", name, {"arn": arn, "name": name}) if ok else None
    if service == "logs":
        prefix, _, name = resource.partition(":")
        ok = prefix == "log-group" and bool(name) and ":" not in name  # its names hold "/", never ":"
        return Tagged(arn, "log_group", name, {"arn": arn, "name": name}) if ok else None
    if service == "dynamodb":
        prefix, _, name = resource.partition("/")
        ok = prefix == "table" and _plain(name)  # not a table's stream or index
        return Tagged(arn, "dynamodb_table", name, {"arn": arn, "name": name}) if ok else None
    return None


def _api_gateway(ctx: Context, arn: str, resource: str) -> Tagged | None:
    client = ctx.clients("apigateway")
    segments = resource.strip("/").split("/")
    if len(segments) == 2 and segments[0] == "restapis":
        api = unless_not_found(lambda: client.get_rest_api(restApiId=segments[1]))
        return Tagged(arn, "rest_api", (api or {}).get("name", ""), {"id": segments[1]})
    if len(segments) == 4 and segments[0] == "restapis" and segments[2] == "stages":
        return Tagged(arn, "api_stage", segments[3], {"rest_api_id": segments[1], "stage": segments[3]})
    if len(segments) == 2 and segments[0] == "apikeys":
        key = unless_not_found(lambda: client.get_api_key(apiKey=segments[1]))
        return Tagged(arn, "api_key", (key or {}).get("name", ""), {"id": segments[1]})
    if len(segments) == 2 and segments[0] == "usageplans":
        plan = unless_not_found(lambda: client.get_usage_plan(usagePlanId=segments[1]))
        return Tagged(arn, "usage_plan", (plan or {}).get("name", ""), {"id": segments[1]})
    return None


def _is_probe(ctx: Context, tagged: Tagged) -> bool:
    return tagged.kind == "sqs_queue" and tagged.name.startswith(f"{ctx.stack}-{PROBE_PREFIX}")


def _plain(resource: str) -> bool:
    return bool(resource) and ":" not in resource and "/" not in resource


def _bare(arn: str) -> str:
    """A log group's ARN as describe_log_groups gives it ends in ":*"; its tag ARN does not."""
    return arn[:-2] if arn.endswith(":*") else arn
