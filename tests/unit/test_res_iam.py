"""IAM role kind against in-process moto."""

from __future__ import annotations

import json

import pytest

from orderpoc import policies
from orderpoc.resources.iam import normalise_policy, role

NAME = "orderpoc-test-processor"


def desired(ctx, actions=("sqs:ReceiveMessage",)) -> dict:
    return {
        "trust_policy": policies.lambda_trust(ctx.account),
        "policy_name": "least-privilege",
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Q",
                    "Effect": "Allow",
                    "Action": list(actions),
                    "Resource": [ctx.arn("sqs", "orderpoc-test-orders")],
                },
            ],
        },
        "tags": dict(ctx.tags),
    }


def test_find_nothing(ctx):
    assert role.find(ctx, NAME, desired(ctx)) is None


def test_create_find_rerun_is_free(ctx, calls):
    want = desired(ctx)
    created = role.create(ctx, NAME, want)
    assert created.outputs == {"arn": f"arn:aws:iam::{ctx.account}:role/{NAME}", "name": NAME}
    assert role.drift(created, want) == []
    calls.clear()
    live = role.find(ctx, NAME, want)
    assert live is not None and live.outputs == created.outputs
    assert role.drift(live, want) == []
    assert calls.mutating == []


def test_policy_and_tag_drift_fixed(ctx, calls):
    want = desired(ctx)
    role.create(ctx, NAME, want)
    iam = ctx.clients("iam")
    iam.put_role_policy(
        RoleName=NAME, PolicyName="least-privilege", PolicyDocument=json.dumps(desired(ctx, ["sqs:*"])["policy"])
    )
    iam.put_role_policy(
        RoleName=NAME, PolicyName="hand-added", PolicyDocument=json.dumps(desired(ctx, ["s3:*"])["policy"])
    )
    iam.tag_role(RoleName=NAME, Tags=[{"Key": "orderpoc:stack", "Value": "other"}, {"Key": "team", "Value": "x"}])
    live = role.find(ctx, NAME, want)
    problems = role.drift(live, want)
    assert any(p.field.startswith("policy.Statement") for p in problems)
    assert any(p.field == "tags.orderpoc:stack" for p in problems)
    calls.clear()
    role.update(ctx, NAME, live, want)
    assert "UpdateAssumeRolePolicy" not in calls.names  # the trust policy did not drift
    after = role.find(ctx, NAME, want)
    assert role.drift(after, want) == []
    assert after.config["tags"]["team"] == "x"  # tags set by others are left alone
    assert iam.list_role_policies(RoleName=NAME)["PolicyNames"] == ["least-privilege"]


def test_trust_policy_drift_fixed(ctx):
    want = desired(ctx)
    role.create(ctx, NAME, want)
    other = policies.lambda_trust("999999999999")
    ctx.clients("iam").update_assume_role_policy(RoleName=NAME, PolicyDocument=json.dumps(other))
    live = role.find(ctx, NAME, want)
    assert [p.field for p in role.drift(live, want)] == ["trust_policy.Statement"]
    role.update(ctx, NAME, live, want)
    assert role.drift(role.find(ctx, NAME, want), want) == []


def test_missing_inline_policy_is_drift(ctx):
    want = desired(ctx)
    role.create(ctx, NAME, want)
    ctx.clients("iam").delete_role_policy(RoleName=NAME, PolicyName="least-privilege")
    live = role.find(ctx, NAME, want)
    assert live.config["policy"] is None and role.drift(live, want)
    role.update(ctx, NAME, live, want)
    assert role.drift(role.find(ctx, NAME, want), want) == []


@pytest.mark.parametrize("outputs", [None, "recorded"])
def test_delete(ctx, outputs):
    want = desired(ctx)
    created = role.create(ctx, NAME, want)
    iam = ctx.clients("iam")
    arn = iam.create_policy(PolicyName="managed", PolicyDocument=json.dumps(want["policy"]))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=NAME, PolicyArn=arn)
    assert role.delete(ctx, NAME, created.outputs if outputs else None) is True
    assert role.find(ctx, NAME, want) is None
    assert role.delete(ctx, NAME, None) is False


def test_normalise_policy():
    a = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": ["b", "a"],
            "Principal": {"Service": "lambda.amazonaws.com"},
        },
    }
    b = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": ["a", "b"],
                "Principal": {"Service": ["lambda.amazonaws.com"]},
            }
        ],
    }
    assert normalise_policy(a) == normalise_policy(b)
    assert normalise_policy(json.dumps(a)) == normalise_policy(b)
    assert normalise_policy("%7B%22Statement%22%3A%20%5B%5D%7D") == {"Statement": []}
    c = {**b, "Statement": [{**b["Statement"][0], "Action": ["s3:PutObject"]}]}
    assert normalise_policy(a) != normalise_policy(c)
    assert normalise_policy(None) is None
