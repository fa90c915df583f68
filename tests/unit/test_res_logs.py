"""CloudWatch Logs log group kind against in-process moto."""

from __future__ import annotations

import pytest

from orderpoc.resources.base import Change
from orderpoc.resources.logs import log_group

NAME = "/aws/lambda/orderpoc-test-intake"


def desired(ctx, days=14) -> dict:
    return {"retention_days": days, "tags": dict(ctx.tags)}


def test_find_nothing_and_prefix_is_not_a_match(ctx):
    ctx.clients("logs").create_log_group(logGroupName=NAME + "-other")
    assert log_group.find(ctx, NAME, desired(ctx)) is None


def test_create_find_rerun_is_free(ctx, calls):
    want = desired(ctx)
    created = log_group.create(ctx, NAME, want)
    arn = f"arn:aws:logs:us-east-1:{ctx.account}:log-group:{NAME}"
    assert created.outputs == {"arn": arn, "name": NAME}
    calls.clear()
    live = log_group.find(ctx, NAME, want)
    assert live.outputs == created.outputs and live.config == want
    assert log_group.drift(live, want) == []
    assert calls.mutating == []


def test_retention_and_tag_drift_fixed(ctx, calls):
    want = desired(ctx)
    log_group.create(ctx, NAME, want)
    logs = ctx.clients("logs")
    logs.put_retention_policy(logGroupName=NAME, retentionInDays=3)
    logs.tag_log_group(logGroupName=NAME, tags={"orderpoc:stack": "other"})
    live = log_group.find(ctx, NAME, want)
    assert log_group.drift(live, want) == [
        Change("retention_days", 3, 14),
        Change("tags.orderpoc:stack", "other", "orderpoc-test"),
    ]
    calls.clear()
    updated = log_group.update(ctx, NAME, live, want)
    assert sorted(calls.mutating) == ["PutRetentionPolicy", "TagResource"]
    assert log_group.drift(updated, want) == []
    assert log_group.drift(log_group.find(ctx, NAME, want), want) == []


def test_never_expire(ctx):
    log_group.create(ctx, NAME, desired(ctx))
    want = desired(ctx, days=None)
    live = log_group.find(ctx, NAME, want)
    assert log_group.drift(live, want) == [Change("retention_days", 14, None)]
    log_group.update(ctx, NAME, live, want)
    assert log_group.find(ctx, NAME, want).config["retention_days"] is None


@pytest.mark.parametrize("recorded", [False, True])
def test_delete(ctx, recorded):
    created = log_group.create(ctx, NAME, desired(ctx))
    assert log_group.delete(ctx, NAME, created.outputs if recorded else None) is True
    assert log_group.find(ctx, NAME, desired(ctx)) is None
    assert log_group.delete(ctx, NAME, None) is False
