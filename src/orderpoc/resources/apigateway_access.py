"""Who may call the API and how much: kinds "api_key" and "usage_plan".

The key's secret value is never read (includeValue stays False) and never lands in outputs, config
or the state file; `orderpoc` fetches it only when a command needs to call the API.
"""

from __future__ import annotations

from typing import Any

from orderpoc.aws_errors import unless_not_found
from orderpoc.idempotent import create_once, delete_once
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource, canonical, diff_config
from orderpoc.resources.util import (
    aws_name,
    changed_tags,
    from_aws,
    paginate,
    pick_ours,
    recorded_or_found,
    say_retry,
    to_aws,
)


def _arn(ctx: Context, path: str) -> str:
    return f"arn:{ctx.partition}:apigateway:{ctx.region}::/{path}"


class ApiKey(Resource):
    kind = "api_key"

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"id": UNKNOWN}

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        keys = paginate(ctx.clients("apigateway"), "get_api_keys", "items", nameQuery=name, includeValues=False)
        key = pick_ours(ctx, list(keys), name)
        return None if key is None else self._live(key)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        return create_once(
            lambda: self._live(
                ctx.clients("apigateway", single_shot=True).create_api_key(
                    name=name,
                    description=desired.get("description", ""),
                    enabled=bool(desired["enabled"]),
                    tags=desired.get("tags") or {},
                )
            ),  # _live drops the value the create response carries
            lambda: self.find(ctx, name, desired),
            on_wait=say_retry(ctx, name),
        )

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        client, key_id, have = ctx.clients("apigateway"), live.outputs["id"], live.config
        ops = []
        if bool(desired["enabled"]) != have.get("enabled"):
            ops.append({"op": "replace", "path": "/enabled", "value": str(bool(desired["enabled"])).lower()})
        if desired.get("description", "") != have.get("description"):
            ops.append({"op": "replace", "path": "/description", "value": desired.get("description", "")})
        if ops:
            client.update_api_key(apiKey=key_id, patchOperations=ops)
        tags = changed_tags(desired.get("tags") or {}, have.get("tags") or {})
        if tags:
            client.tag_resource(resourceArn=_arn(ctx, f"apikeys/{key_id}"), tags=tags)
        return self._live(client.get_api_key(apiKey=key_id, includeValue=False))

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        key_id = recorded_or_found(self, ctx, name, outputs, "id")
        client = ctx.clients("apigateway")
        return key_id is not None and unless_not_found(lambda: client.get_api_key(apiKey=key_id)) is not None

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        key_id = recorded_or_found(self, ctx, name, outputs, "id")
        if key_id is None:
            return False
        return unless_not_found(lambda: ctx.clients("apigateway").delete_api_key(apiKey=key_id)) is not None

    def _live(self, key: dict[str, Any]) -> Live:
        config = {
            "enabled": bool(key.get("enabled")),
            "description": key.get("description") or "",
            "tags": key.get("tags") or {},
        }
        return Live(outputs={"id": key["id"]}, config=config)


def _num(value: Any) -> str:
    """Patch values are text; "50" not "50.0" for whole numbers (moto int()s rateLimit, AWS takes both)."""
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def _throttle(t: dict[str, Any] | None) -> Config | None:
    """Throttle settings in the config's shape (snake_case, typed) from either spelling."""
    if not t:
        return None
    out = from_aws(t)
    if "rate_limit" in out:
        out["rate_limit"] = float(out["rate_limit"])  # a double on AWS; moto stores patched values as int
    if "burst_limit" in out:
        out["burst_limit"] = int(out["burst_limit"])
    return out


def _quota(q: dict[str, Any] | None) -> Config | None:
    if not q:
        return None
    out = from_aws(q)
    return {**out, "limit": int(out["limit"])} if "limit" in out else out  # moto keeps patched text


def _align(have: list[Any], want: list[Any] | None) -> list[Any]:
    """`have` reordered: the desired items it contains in desired order, then the rest sorted."""
    present = {canonical(h) for h in have}
    wanted = {canonical(w) for w in want or []}
    return [w for w in want or [] if canonical(w) in present] + sorted(
        (h for h in have if canonical(h) not in wanted), key=canonical
    )


def _stage_ref(stage: dict[str, Any]) -> str:
    return f"{stage['api_id']}:{stage['stage']}"


class UsagePlan(Resource):
    """Config: api_stages [{api_id, stage}], throttle {rate_limit, burst_limit}, quota {limit,
    period, offset}, api_key_ids, description, tags."""

    kind = "usage_plan"

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"id": UNKNOWN}

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        plan = _plan_named(ctx, name)
        return None if plan is None else self._live(ctx, plan, desired)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        params: dict[str, Any] = {
            "name": name,
            "description": desired.get("description", ""),
            "apiStages": to_aws(desired.get("api_stages") or [], camel=True),
            "tags": desired.get("tags") or {},
        }
        for part in ("throttle", "quota"):
            if desired.get(part):
                params[part] = to_aws(desired[part], camel=True)
        created = create_once(
            lambda: ctx.clients("apigateway", single_shot=True).create_usage_plan(**params),
            lambda: _plan_named(ctx, name),
            on_wait=say_retry(ctx, name),
        )
        # Read after the create, not within it: a throttled read of its keys was retried as
        # another create (eight plans of one name).
        live = self._live(ctx, created, desired)
        # The keys through update: a plan adopted after a lost answer may have some already.
        return self.update(ctx, name, live, desired) if self.drift(live, desired) else live

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        client, plan_id, have = ctx.clients("apigateway"), live.outputs["id"], live.config
        ops: list[dict[str, str]] = []
        if desired.get("description", "") != have.get("description"):
            ops.append({"op": "replace", "path": "/description", "value": desired.get("description", "")})
        for part, norm in (("throttle", _throttle), ("quota", _quota)):
            want, was = norm(desired.get(part)), have.get(part)
            if want is None and was is not None:
                ops.append({"op": "remove", "path": f"/{part}"})
            elif want is not None and diff_config(want, was or {}):
                op = "replace" if was else "add"
                ops += [
                    {"op": op, "path": f"/{part}/{aws_name(k, camel=True)}", "value": _num(v) if k != "period" else v}
                    for k, v in want.items()
                ]
        want_stages = {_stage_ref(s) for s in desired.get("api_stages") or []}
        have_stages = {_stage_ref(s) for s in have.get("api_stages") or []}
        ops += [{"op": "add", "path": "/apiStages", "value": s} for s in sorted(want_stages - have_stages)]
        ops += [{"op": "remove", "path": "/apiStages", "value": s} for s in sorted(have_stages - want_stages)]
        if ops:
            client.update_usage_plan(usagePlanId=plan_id, patchOperations=ops)
        want_keys, have_keys = set(desired.get("api_key_ids") or []), set(have.get("api_key_ids") or [])
        for key_id in sorted(want_keys - have_keys):
            _add_key(ctx, plan_id, key_id)
        for key_id in sorted(have_keys - want_keys):
            _remove_key(ctx, plan_id, key_id)
        tags = changed_tags(desired.get("tags") or {}, have.get("tags") or {})
        if tags:
            client.tag_resource(resourceArn=_arn(ctx, f"usageplans/{plan_id}"), tags=tags)
        return self._live(ctx, client.get_usage_plan(usagePlanId=plan_id), desired)

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        plan_id = (outputs or {}).get("id")
        if not plan_id:
            return self.find(ctx, name, {}) is not None
        client = ctx.clients("apigateway")
        return unless_not_found(lambda: client.get_usage_plan(usagePlanId=plan_id)) is not None

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        client = ctx.clients("apigateway")
        plan_id = (outputs or {}).get("id")
        if plan_id:  # read first: moto fails with a 500 (KeyError) deleting an unknown id
            live = unless_not_found(lambda: self._live(ctx, client.get_usage_plan(usagePlanId=plan_id), {}))
        else:
            live = self.find(ctx, name, {})
        if live is None:
            return False
        plan_id = live.outputs["id"]
        # Detach first: AWS refuses to delete a plan that still has API stages.
        stages = [{"op": "remove", "path": "/apiStages", "value": _stage_ref(s)} for s in live.config["api_stages"]]
        if stages:
            # Sent again after a lost answer, "remove a stage that is not there" fails: ask instead.
            delete_once(
                lambda: ctx.clients("apigateway", single_shot=True).update_usage_plan(
                    usagePlanId=plan_id, patchOperations=stages
                ),
                lambda: not (client.get_usage_plan(usagePlanId=plan_id).get("apiStages") or []),
            )
        for key_id in live.config["api_key_ids"]:
            _remove_key(ctx, plan_id, key_id)
        return delete_once(
            lambda: ctx.clients("apigateway", single_shot=True).delete_usage_plan(usagePlanId=plan_id),
            lambda: unless_not_found(lambda: client.get_usage_plan(usagePlanId=plan_id)) is None,
        )

    def drift(self, live: Live, desired: Config) -> list[Change]:
        want = {**desired, "throttle": _throttle(desired.get("throttle")), "quota": _quota(desired.get("quota"))}
        return diff_config(want, live.config)

    def _live(self, ctx: Context, plan: dict[str, Any], desired: Config) -> Live:
        keys = paginate(ctx.clients("apigateway"), "get_usage_plan_keys", "items", usagePlanId=plan["id"])
        key_ids = [k["id"] for k in keys if k.get("type", "API_KEY") == "API_KEY"]
        stages = [{"api_id": s["apiId"], "stage": s["stage"]} for s in plan.get("apiStages") or []]
        config = {
            "api_stages": _align(stages, desired.get("api_stages")),
            "throttle": _throttle(plan.get("throttle")),
            "quota": _quota(plan.get("quota")),
            "api_key_ids": _align(key_ids, desired.get("api_key_ids")),
            "description": plan.get("description") or "",
            "tags": plan.get("tags") or {},
        }
        return Live(outputs={"id": plan["id"]}, config=config)


def _plan_named(ctx: Context, name: str) -> dict[str, Any] | None:
    return pick_ours(ctx, list(paginate(ctx.clients("apigateway"), "get_usage_plans", "items")), name)


def _add_key(ctx: Context, plan_id: str, key_id: str) -> None:
    """Attach a key to the plan; sent again after a lost answer AWS says it is attached already."""
    client = ctx.clients("apigateway")
    create_once(
        lambda: ctx.clients("apigateway", single_shot=True).create_usage_plan_key(
            usagePlanId=plan_id, keyId=key_id, keyType="API_KEY"
        ),
        lambda: unless_not_found(lambda: client.get_usage_plan_key(usagePlanId=plan_id, keyId=key_id)),
    )


def _remove_key(ctx: Context, plan_id: str, key_id: str) -> None:
    """Detach a key; sent again after a lost answer, the delete finds nothing: that is done."""
    client = ctx.clients("apigateway")
    delete_once(
        lambda: ctx.clients("apigateway", single_shot=True).delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id),
        lambda: unless_not_found(lambda: client.get_usage_plan_key(usagePlanId=plan_id, keyId=key_id)) is None,
    )


api_key = ApiKey()
usage_plan = UsagePlan()
