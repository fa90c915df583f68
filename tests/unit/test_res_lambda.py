"""Lambda function and permission kinds against in-process moto."""

from __future__ import annotations

import pytest
from lambda_helpers import FUNCTION, function_desired, make_zip

from orderpoc.errors import ResourceError
from orderpoc.resources.awslambda import function as fn_kind
from orderpoc.resources.awslambda import permission
from orderpoc.resources.base import Change

PERMISSION = f"{FUNCTION}|apigateway-invoke"


def test_find_nothing(ctx):
    assert fn_kind.find(ctx, FUNCTION, {}) is None


def test_create_find_rerun_is_free(ctx, calls, role_arn):
    want = function_desired(ctx, role_arn)
    created = fn_kind.create(ctx, FUNCTION, want)
    assert created.outputs == {"arn": f"arn:aws:lambda:us-east-1:{ctx.account}:function:{FUNCTION}", "name": FUNCTION}
    assert fn_kind.drift(created, want) == []
    assert any("waiting for function" in m for m in ctx.messages)
    calls.clear()
    live = fn_kind.find(ctx, FUNCTION, want)
    assert live.outputs == created.outputs
    assert live.config["code_sha256"] == want["code_sha256"]  # the same digest Lambda computes
    assert fn_kind.drift(live, want) == []
    assert calls.mutating == []


ASSUME = "The role defined for the function cannot be assumed by Lambda."


def test_a_role_unassumable_for_18_seconds_is_waited_out(ctx, calls, role_arn, clock):
    """IAM propagation runs on a time budget, not a count of attempts, and each wait is told."""
    attempts = clock.refuse_until(
        ctx.clients, "before-call.lambda.CreateFunction", 18, "InvalidParameterValueException", ASSUME
    )
    fn_kind.create(ctx, FUNCTION, function_desired(ctx, role_arn))
    assert attempts[-1] >= 18 and all(t < 18 for t in attempts[:-1])
    waits = [m for m in ctx.messages if m.startswith("waiting for IAM to propagate … ")]
    assert len(waits) == len(attempts) - 1
    assert waits[-1] == f"waiting for IAM to propagate … {attempts[-2]:.0f} s"
    assert max(clock.sleeps) <= 10  # backoff capped: a settled role is noticed soon


def test_a_role_that_never_becomes_assumable_fails_with_a_clear_message(ctx, role_arn, clock):
    clock.refuse_until(ctx.clients, "before-call.lambda.CreateFunction", 1e9, "InvalidParameterValueException", ASSUME)
    with pytest.raises(ResourceError) as raised:
        fn_kind.create(ctx, FUNCTION, function_desired(ctx, role_arn))
    assert str(raised.value).startswith(f"{FUNCTION}: gave up waiting for IAM to propagate after 180 s: ")
    assert ASSUME in str(raised.value)
    assert clock.seconds == pytest.approx(180)


def test_update_waits_out_a_function_still_updating(ctx, calls, role_arn, clock):
    want = function_desired(ctx, role_arn)
    fn_kind.create(ctx, FUNCTION, want)
    live = fn_kind.find(ctx, FUNCTION, want)
    busy = "The operation cannot be performed at this time. An update is in progress for resource: x"
    attempts = clock.refuse_until(
        ctx.clients, "before-call.lambda.UpdateFunctionConfiguration", 5, "ResourceConflictException", busy
    )
    fn_kind.update(ctx, FUNCTION, live, {**want, "timeout": 20})
    assert attempts[-1] >= 5
    assert "waiting for the previous change to finish … 0 s" in ctx.messages


def test_config_drift_updates_configuration_only(ctx, calls, role_arn):
    want = function_desired(ctx, role_arn)
    fn_kind.create(ctx, FUNCTION, want)
    ctx.clients("lambda").update_function_configuration(
        FunctionName=FUNCTION,
        Timeout=3,
        Environment={"Variables": {"ORDERS_TABLE": "orderpoc-test-orders", "X": "1"}},
    )
    live = fn_kind.find(ctx, FUNCTION, want)
    drift = fn_kind.drift(live, want)
    assert [d.field for d in drift] == ["timeout", "environment"]  # an extra variable is drift
    calls.clear()
    fixed = fn_kind.update(ctx, FUNCTION, live, want)
    assert calls.mutating == ["UpdateFunctionConfiguration"]
    assert fn_kind.drift(fixed, want) == []
    assert fixed.config["environment"] == want["environment"]


def test_new_code_updates_code_only(ctx, calls, role_arn):
    fn_kind.create(ctx, FUNCTION, function_desired(ctx, role_arn))
    want = function_desired(ctx, role_arn, code=make_zip("def handler(e, c):\n    return 42\n"))
    live = fn_kind.find(ctx, FUNCTION, want)
    assert [d.field for d in fn_kind.drift(live, want)] == ["code_sha256"]
    calls.clear()
    fixed = fn_kind.update(ctx, FUNCTION, live, want)
    assert calls.mutating == ["UpdateFunctionCode"]  # not UpdateFunctionConfiguration
    assert fn_kind.drift(fixed, want) == []


def test_tag_drift_tags_only(ctx, calls, role_arn):
    fn_kind.create(ctx, FUNCTION, function_desired(ctx, role_arn))
    want = function_desired(ctx, role_arn, tags={**ctx.tags, "team": "orders"})
    live = fn_kind.find(ctx, FUNCTION, want)
    assert fn_kind.drift(live, want) == [Change("tags.team", None, "orders")]
    calls.clear()
    assert fn_kind.drift(fn_kind.update(ctx, FUNCTION, live, want), want) == []
    assert calls.mutating == ["TagResource"]


def test_delete_by_name(ctx, role_arn):
    fn_kind.create(ctx, FUNCTION, function_desired(ctx, role_arn))
    assert fn_kind.delete(ctx, FUNCTION, None) is True
    assert fn_kind.find(ctx, FUNCTION, {}) is None
    assert fn_kind.delete(ctx, FUNCTION, None) is False


# -- permission -------------------------------------------------------------------------------


def permission_desired(source_arn: str = "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*/order*") -> dict:
    return {
        "function_name": FUNCTION,
        "statement_id": "apigateway-invoke",
        "action": "lambda:InvokeFunction",
        "principal": "apigateway.amazonaws.com",
        "source_arn": source_arn,
    }


def test_permission_find_nothing(ctx, function):
    assert permission.find(ctx, PERMISSION, permission_desired()) is None  # function without a policy
    assert permission.find(ctx, "nope|apigateway-invoke", permission_desired()) is None  # no function


def test_permission_create_find_rerun_is_free(ctx, calls, function):
    want = permission_desired()
    created = permission.create(ctx, PERMISSION, want)
    assert created.outputs == {"statement_id": "apigateway-invoke"}
    calls.clear()
    live = permission.find(ctx, PERMISSION, want)
    assert live.config == want
    assert permission.drift(live, want) == [] and calls.mutating == []


def test_permission_drift_replaces_statement(ctx, calls, function):
    permission.create(ctx, PERMISSION, permission_desired())
    want = permission_desired("arn:aws:execute-api:us-east-1:123456789012:xyz789/*/*/order*")
    live = permission.find(ctx, PERMISSION, want)
    assert [d.field for d in permission.drift(live, want)] == ["source_arn"]
    calls.clear()
    permission.update(ctx, PERMISSION, live, want)
    assert calls.mutating == ["RemovePermission", "AddPermission"]
    assert permission.drift(permission.find(ctx, PERMISSION, want), want) == []


def test_permission_delete_by_name(ctx, function):
    permission.create(ctx, PERMISSION, permission_desired())
    assert permission.delete(ctx, PERMISSION, None) is True
    assert permission.find(ctx, PERMISSION, permission_desired()) is None
    assert permission.delete(ctx, PERMISSION, None) is False
    assert permission.delete(ctx, "nope|apigateway-invoke", None) is False
