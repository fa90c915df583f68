"""Sweeping what only the stack tag finds (tag_sweep.py): planned as delete, deleted by up and down,
and never a declared resource, nor another stack's, nor a shape orderpoc does not know.

The whole stack on moto (target aws, stack "acc"). Moto's tagging API lists queues, topics,
functions, tables and log groups (not API Gateway); IAM roles are listed by name prefix.
"""

from __future__ import annotations

import json

from lambda_helpers import TRUST, make_zip

from orderpoc import app, tag_sweep
from orderpoc.resources.base import Context
from orderpoc.settings import TAG_KEY

DECLARED = 21


def planned(settings, **kwargs) -> dict[str, str]:
    return {step.key: step.action for step in app.plan(settings, **kwargs).plan.steps}


def applied(settings) -> dict[str, str]:
    return app.up(settings, lambda event: None)[1].actions


def _leftovers(session, stack: str = "acc") -> dict[str, str]:
    """Made out of band, tagged with `stack`: a queue, a function, a log group and a role, as an
    older version of the stack (or a crash before the state write) would leave them. Key -> kind."""
    c, tags = session.clients, {TAG_KEY: stack}
    url = c("sqs").create_queue(QueueName=f"{stack}-legacy", tags=tags)["QueueUrl"]
    queue = c("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = c("iam").create_role(
        RoleName=f"{stack}-legacy", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": TAG_KEY, "Value": stack}]
    )["Role"]["Arn"]
    function = c("lambda").create_function(
        FunctionName=f"{stack}-legacy",
        Runtime="python3.12",
        Role=session.state.outputs("role:intake")["arn"],
        Handler="index.handler",
        Code={"ZipFile": make_zip()},
        Tags=tags,
    )["FunctionArn"]
    c("logs").create_log_group(logGroupName=f"/aws/lambda/{stack}-legacy", tags=tags)
    group = f"arn:aws:logs:us-east-1:{session.ctx.account}:log-group:/aws/lambda/{stack}-legacy"
    return {
        f"tagged:{queue}": "sqs_queue",
        f"tagged:{function}": "lambda_function",
        f"tagged:{group}": "log_group",
        f"tagged:{role}": "iam_role",
    }


def test_tag_found_leftovers_are_planned_as_delete_then_deleted_by_up(app_moto):
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None)
    leftovers = _leftovers(session)
    calls.clear()
    plan = app.plan(settings).plan
    assert calls.mutating == []  # plan stays read-only
    swept = {s.key: s for s in plan.steps if s.action != "unchanged"}
    assert {k: s.action for k, s in swept.items()} == {key: "delete" for key in leftovers}
    assert {k: s.kind for k, s in swept.items()} == leftovers
    assert plan.destructive  # on aws, up asks first
    done = applied(settings)
    assert {k: done[k] for k in leftovers} == {key: "delete" for key in leftovers}  # as planned
    c = session.clients
    assert c("sqs").list_queues(QueueNamePrefix="acc-legacy").get("QueueUrls", []) == []
    assert [f["FunctionName"] for f in c("lambda").list_functions()["Functions"] if "legacy" in f["FunctionName"]] == []
    assert [r for r in c("iam").list_roles()["Roles"] if r["RoleName"] == "acc-legacy"] == []
    calls.clear()
    assert set(planned(settings).values()) == {"unchanged"} and calls.mutating == []


def test_with_the_state_lost_no_declared_resource_is_ever_planned_for_delete(app_moto):
    """The safety test: every declared resource is found by name and kept; only the real leftover goes."""
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None, notify_emails=["a@example.com"])
    queue = next(k for k in _leftovers(session) if k.startswith("tagged:arn:aws:sqs"))
    settings.state_file.unlink()  # the state is lost
    calls.clear()
    plan = app.plan(settings, notify_emails=["a@example.com"]).plan
    assert calls.mutating == []
    declared = [s for s in plan.steps if s.key in plan.declared]
    assert len(declared) == DECLARED + 1  # and the subscription
    assert {s.action for s in declared} == {"unchanged"}  # adopted as found, none deleted nor replaced
    orphans = [s for s in plan.steps if s.key not in plan.declared]
    assert {s.key for s in orphans if s.kind == "sqs_queue"} == {queue}
    assert all(s.name.startswith("acc-legacy") or s.name.endswith("acc-legacy") for s in orphans)
    done = app.up(settings, lambda e: None, notify_emails=["a@example.com"])[1].actions
    assert {k: a for k, a in done.items() if a not in {"unchanged"}} == {s.key: "delete" for s in orphans}
    assert set(planned(settings, notify_emails=["a@example.com"]).values()) == {"unchanged"}
    status = app.status(settings)
    assert status.healthy  # every declared resource still there, as declared


def test_another_stacks_resources_and_unknown_shapes_are_never_touched(app_moto):
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None)
    _leftovers(session, stack="acc-x")  # a stack whose names start like ours
    c = session.clients
    c("sqs").create_queue(QueueName="acc-orders-other", tags={TAG_KEY: "other"})
    c("s3").create_bucket(Bucket="acc-bucket")
    c("s3").put_bucket_tagging(Bucket="acc-bucket", Tagging={"TagSet": [{"Key": TAG_KEY, "Value": "acc"}]})
    result = app.plan(settings)
    assert {s.action for s in result.plan.steps} == {"unchanged"}
    assert result.notices == [
        "tagged orderpoc:stack=acc but not a kind orderpoc deletes (not deleted): arn:aws:s3:::acc-bucket"
    ]
    assert not result.plan.pending  # nothing orderpoc would do
    assert set(applied(settings).values()) == {"unchanged"}
    down = app.down(settings, lambda e: None)
    assert down.leftovers == ["arn:aws:s3:::acc-bucket"]  # reported, not deleted (exit code 1)
    assert c("s3").head_bucket(Bucket="acc-bucket")
    queues = c("sqs").list_queues(QueueNamePrefix="acc-").get("QueueUrls", [])
    assert sorted(u.rsplit("/", 1)[-1] for u in queues) == ["acc-orders-other", "acc-x-legacy"]
    assert c("iam").get_role(RoleName="acc-x-legacy") and c("lambda").get_function(FunctionName="acc-x-legacy")


def test_down_deletes_tag_found_leftovers_too(app_moto):
    calls, settings = app_moto
    session, _ = app.up(settings, lambda e: None)
    leftovers = _leftovers(session)
    plan = app.plan(settings, destroy=True).plan
    assert {s.key: s.action for s in plan.steps if s.key in leftovers} == {key: "delete" for key in leftovers}
    down = app.down(settings, lambda e: None)
    assert down.leftovers == []  # nothing tagged with the stack remains
    assert {k: down.actions[k] for k in leftovers} == {key: "delete" for key in leftovers}
    assert len(down.actions) == DECLARED + len(leftovers)


def test_classify_maps_only_known_shapes_of_this_account_and_region(ctx: Context):
    a, other = ctx.account, "999999999999"
    cases = {
        f"arn:aws:sqs:us-east-1:{a}:q": ("sqs_queue", "q"),
        f"arn:aws:sns:us-east-1:{a}:t": ("sns_topic", "t"),
        f"arn:aws:lambda:us-east-1:{a}:function:f": ("lambda_function", "f"),
        f"arn:aws:dynamodb:us-east-1:{a}:table/t": ("dynamodb_table", "t"),
        f"arn:aws:logs:us-east-1:{a}:log-group:/aws/lambda/f": ("log_group", "/aws/lambda/f"),
        f"arn:aws:iam::{a}:role/r": ("iam_role", "r"),
        "arn:aws:apigateway:us-east-1::/restapis/abc/stages/v0": ("api_stage", "v0"),
    }
    for arn, (kind, name) in cases.items():
        tagged = tag_sweep.classify(ctx, arn)
        assert tagged is not None and (tagged.kind, tagged.name) == (kind, name), arn
    for arn in (
        f"arn:aws:sqs:us-west-2:{a}:q",  # another region
        f"arn:aws:sqs:us-east-1:{other}:q",  # another account
        f"arn:aws:lambda:us-east-1:{a}:function:f:live",  # an alias
        f"arn:aws:lambda:us-east-1:{a}:event-source-mapping:1234",
        f"arn:aws:dynamodb:us-east-1:{a}:table/t/stream/2024",
        f"arn:aws:sns:us-east-1:{a}:t:5f1e",  # a subscription
        f"arn:aws:iam::{a}:role/service/r",  # a role with a path
        "arn:aws:s3:::bucket",
        "arn:aws-cn:sqs:us-east-1:{a}:q",
    ):
        assert tag_sweep.classify(ctx, arn) is None, arn


def test_known_covers_by_arn_id_and_name():
    known = tag_sweep.Known()
    known.add("rest_api", "acc-api", ["abc", "arn:aws:apigateway:us-east-1::/restapis/abc"])
    known.add("log_group", "/aws/lambda/acc-intake", ["arn:aws:logs:us-east-1:1:log-group:/aws/lambda/acc-intake:*"])
    api = "arn:aws:apigateway:us-east-1::/restapis/abc"
    assert known.covers(tag_sweep.Tagged(api, "rest_api", "renamed", {"id": "abc"}))  # by ARN and id
    assert known.covers(tag_sweep.Tagged("arn:x", "rest_api", "acc-api", {"id": "twin"}))  # by name
    group = "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/acc-intake"
    assert known.covers(tag_sweep.Tagged(group, "log_group", "other", {}))  # ":*" or not, the same group
    stage = tag_sweep.Tagged(f"{api}/stages/v0", "api_stage", "v0", {"rest_api_id": "abc", "stage": "v0"})
    assert not known.covers(stage)  # its API's id is known, the stage is not


def test_every_swept_kind_is_a_kind_of_the_stack():
    from orderpoc import stack

    assert set(tag_sweep.SWEEP_ORDER) <= set(stack.KINDS)  # else a name could never match a declared one


class _Meeting:
    """Fake tagging and IAM clients whose list calls wait for each other: a search that made them
    one after another would time out at the barrier."""

    def __init__(self, roles: list[str]) -> None:
        import threading

        self.lists = threading.Barrier(2, timeout=5)  # GetResources and ListRoles
        self.role_tags = threading.Barrier(len(roles), timeout=5)  # one ListRoleTags per role
        self.roles = roles

    def __call__(self, service: str):
        return self

    def get_paginator(self, operation: str):
        return self

    def paginate(self, **kwargs):
        self.lists.wait()
        if "TagFilters" in kwargs:
            return [{"ResourceTagMappingList": []}]
        arn = "arn:aws:iam::123456789012:role/{}"
        return [{"Roles": [{"RoleName": name, "Arn": arn.format(name)} for name in self.roles]}]

    def list_role_tags(self, RoleName: str):
        self.role_tags.wait()
        return {"Tags": [{"Key": TAG_KEY, "Value": "acc"}] if RoleName != "acc-other" else []}


def test_the_tag_search_asks_its_lists_at_once_and_each_roles_tags_at_once():
    fake = _Meeting(["acc-intake", "acc-processor", "acc-other"])
    ctx = Context(clients=fake, account="123456789012", region="us-east-1", stack="acc", tags={})  # type: ignore[arg-type]
    assert tag_sweep.tagged_arns(ctx) == [
        "arn:aws:iam::123456789012:role/acc-intake",
        "arn:aws:iam::123456789012:role/acc-processor",
    ]
