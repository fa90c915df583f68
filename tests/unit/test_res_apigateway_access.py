"""API key and usage plan kinds against in-process moto."""

from __future__ import annotations

import json

import pytest

from orderpoc.resources.apigateway import api_key, stage, usage_plan
from orderpoc.resources.base import Change

KEY, PLAN = "orderpoc-test-key", "orderpoc-test-plan"


def key_desired(ctx, **overrides) -> dict:
    return {"enabled": True, "description": "orderpoc test client key", "tags": dict(ctx.tags), **overrides}


def test_key_find_nothing(ctx):
    assert api_key.find(ctx, KEY, key_desired(ctx)) is None


def test_key_create_find_rerun_is_free_and_never_holds_the_value(ctx, calls):
    want = key_desired(ctx)
    created = api_key.create(ctx, KEY, want)
    value = ctx.clients("apigateway").get_api_key(apiKey=created.outputs["id"], includeValue=True)["value"]
    assert list(created.outputs) == ["id"]
    assert value not in json.dumps([created.outputs, created.config])
    calls.clear()
    live = api_key.find(ctx, KEY, want)
    assert live.outputs == created.outputs and api_key.drift(live, want) == [] and calls.mutating == []


def test_key_name_matches_exactly(ctx):
    ctx.clients("apigateway").create_api_key(name=f"{KEY}-2")  # get_api_keys(nameQuery) is a prefix match
    assert api_key.find(ctx, KEY, key_desired(ctx)) is None


def test_key_disabled_out_of_band_is_enabled_again(ctx, calls):
    want = key_desired(ctx)
    created = api_key.create(ctx, KEY, want)
    ctx.clients("apigateway").update_api_key(
        apiKey=created.outputs["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    live = api_key.find(ctx, KEY, want)
    assert api_key.drift(live, want) == [Change("enabled", False, True)]
    calls.clear()
    assert api_key.drift(api_key.update(ctx, KEY, live, want), want) == []
    assert calls.mutating == ["UpdateApiKey"]


def test_key_delete(ctx):
    created = api_key.create(ctx, KEY, key_desired(ctx))
    assert api_key.delete(ctx, KEY, created.outputs) is True
    assert api_key.find(ctx, KEY, key_desired(ctx)) is None
    assert api_key.delete(ctx, KEY, created.outputs) is False
    api_key.create(ctx, KEY, key_desired(ctx))
    assert api_key.delete(ctx, KEY, None) is True  # by name
    assert api_key.delete(ctx, KEY, None) is False


# -- usage plan -------------------------------------------------------------------------------


@pytest.fixture
def wiring(ctx, api) -> dict:
    """A deployed stage v1 of the API, and an API key."""
    stage.create(ctx, "v1", {"rest_api_id": api["id"], "revision": "r", "description": "", "tags": {}})
    return {"api_id": api["id"], "key_id": api_key.create(ctx, KEY, key_desired(ctx)).outputs["id"]}


def plan_desired(ctx, wiring, **overrides) -> dict:
    return {
        "api_stages": [{"api_id": wiring["api_id"], "stage": "v1"}],
        "throttle": {"rate_limit": 50.0, "burst_limit": 100},
        "quota": {"limit": 100000, "period": "DAY"},
        "api_key_ids": [wiring["key_id"]],
        "description": "orderpoc test plan",
        "tags": dict(ctx.tags),
        **overrides,
    }


def test_plan_find_nothing(ctx, wiring):
    assert usage_plan.find(ctx, PLAN, plan_desired(ctx, wiring)) is None


def test_plan_create_find_rerun_is_free(ctx, calls, wiring):
    want = plan_desired(ctx, wiring)
    created = usage_plan.create(ctx, PLAN, want)
    assert list(created.outputs) == ["id"]
    assert usage_plan.drift(created, want) == []
    calls.clear()
    live = usage_plan.find(ctx, PLAN, want)
    assert live.outputs == created.outputs and live.config["api_key_ids"] == [wiring["key_id"]]
    assert usage_plan.drift(live, want) == [] and calls.mutating == []


def test_plan_drift_fixed(ctx, calls, wiring):
    created = usage_plan.create(ctx, PLAN, plan_desired(ctx, wiring, quota=None))
    client = ctx.clients("apigateway")
    client.update_usage_plan(
        usagePlanId=created.outputs["id"],
        patchOperations=[{"op": "replace", "path": "/throttle/burstLimit", "value": "5"}],
    )
    client.delete_usage_plan_key(usagePlanId=created.outputs["id"], keyId=wiring["key_id"])
    want = plan_desired(ctx, wiring)  # and a quota now
    live = usage_plan.find(ctx, PLAN, want)
    assert [d.field for d in usage_plan.drift(live, want)] == ["throttle.burst_limit", "quota", "api_key_ids"]
    calls.clear()
    fixed = usage_plan.update(ctx, PLAN, live, want)
    assert calls.mutating == ["UpdateUsagePlan", "CreateUsagePlanKey"]
    assert usage_plan.drift(fixed, want) == []
    # and back: no quota, no stage
    less = plan_desired(ctx, wiring, quota=None, api_stages=[])
    assert usage_plan.drift(usage_plan.update(ctx, PLAN, fixed, less), less) == []


def test_plan_delete(ctx, wiring):
    created = usage_plan.create(ctx, PLAN, plan_desired(ctx, wiring))
    assert usage_plan.delete(ctx, PLAN, created.outputs) is True
    assert usage_plan.find(ctx, PLAN, plan_desired(ctx, wiring)) is None
    assert usage_plan.delete(ctx, PLAN, created.outputs) is False
    usage_plan.create(ctx, PLAN, plan_desired(ctx, wiring))
    assert usage_plan.delete(ctx, PLAN, None) is True  # by name
    assert usage_plan.delete(ctx, PLAN, None) is False


def test_a_throttled_read_after_a_plans_create_never_creates_another(ctx, wiring):
    """The create worked; reading its keys was throttled. Retrying that as a create made 8 plans."""
    import botocore.exceptions

    def throttled(**kwargs):
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}}, "GetUsagePlanKeys"
        )

    events = ctx.clients("apigateway").meta.events
    events.register("before-call.api-gateway.GetUsagePlanKeys", throttled, unique_id="throttled-keys")
    try:
        with pytest.raises(botocore.exceptions.ClientError, match="Too Many Requests"):
            usage_plan.create(ctx, PLAN, plan_desired(ctx, wiring))
    finally:
        events.unregister("before-call.api-gateway.GetUsagePlanKeys", unique_id="throttled-keys")
    plans = ctx.clients("apigateway").get_usage_plans()["items"]
    assert [p["name"] for p in plans].count(PLAN) == 1  # the rerun adopts it
    assert usage_plan.find(ctx, PLAN, plan_desired(ctx, wiring)) is not None
