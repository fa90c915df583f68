"""Lambda functions and their resource policies: kinds "lambda_function" and "lambda_permission"."""

from __future__ import annotations

import json
from typing import Any

from orderpoc.aws_errors import pending_change, pending_iam_or_change, unless_not_found
from orderpoc.aws_retry import CONFLICT_BUDGET, IAM_BUDGET, wait_out
from orderpoc.idempotent import create_once
from orderpoc.resources.base import Change, Config, Context, Live, Outputs, Resource, canonical, diff_config
from orderpoc.resources.util import changed_tags

# desired key -> create/update_function_configuration parameter (environment is handled apart)
_CONFIG_PARAMS = {
    "role_arn": "Role",
    "handler": "Handler",
    "runtime": "Runtime",
    "timeout": "Timeout",
    "memory": "MemorySize",
    "description": "Description",
}
_UPDATE_WAIT = {"Delay": 1, "MaxAttempts": 300}


def _observed(conf: dict[str, Any], tags: dict[str, str], concurrency: dict[str, Any] | None = None) -> Config:
    observed: Config = {key: conf.get(param) for key, param in _CONFIG_PARAMS.items()}
    observed["architecture"] = (conf.get("Architectures") or ["x86_64"])[0]
    observed["reserved_concurrency"] = (concurrency or {}).get("ReservedConcurrentExecutions")
    observed["description"] = conf.get("Description") or ""
    observed["environment"] = (conf.get("Environment") or {}).get("Variables") or {}
    observed["code_sha256"] = conf.get("CodeSha256")
    observed["tags"] = tags
    return observed


def _config_params(desired: Config, keys: list[str]) -> dict[str, Any]:
    params = {_CONFIG_PARAMS[k]: desired[k] for k in keys if k in _CONFIG_PARAMS}
    if "environment" in keys:
        params["Environment"] = {"Variables": desired["environment"]}
    return params


class LambdaFunction(Resource):
    kind = "lambda_function"

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"arn": ctx.arn("lambda", f"function:{name}"), "name": name}

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        resp = unless_not_found(lambda: ctx.clients("lambda").get_function(FunctionName=name))
        if resp is None:
            return None
        conf = resp["Configuration"]
        return Live(
            outputs={"arn": conf["FunctionArn"], "name": conf["FunctionName"]},
            config=_observed(conf, resp.get("Tags") or {}, resp.get("Concurrency")),
        )

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        client = ctx.clients("lambda")
        keys = [k for k in [*_CONFIG_PARAMS, "environment"] if k in desired]
        # A role created seconds ago may not be assumable by Lambda yet (IAM is eventually
        # consistent): wait that out. The log group /aws/lambda/{name} is Lambda's default,
        # so no LoggingConfig is needed (moto accepts but ignores it anyway).
        wait_out(
            lambda: client.create_function(
                FunctionName=name,
                Code={"ZipFile": desired["_zip"]},
                PackageType="Zip",
                Publish=False,
                Tags=desired.get("tags") or {},
                Architectures=[desired.get("architecture") or "x86_64"],
                **_config_params(desired, keys),
            ),
            awaiting=pending_iam_or_change,
            budget=IAM_BUDGET,
            name=name,
            say=ctx.say,
        )
        ctx.say(f"waiting for function {name} Active")
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=_UPDATE_WAIT)
        if desired.get("reserved_concurrency") is not None:
            _set_concurrency(client, name, desired["reserved_concurrency"])
        return self._refind(ctx, name, desired)

    def adopt(self, ctx: Context, name: str, desired: Config) -> Live | None:
        # A function made by a create whose answer was lost may still be Pending.
        if self.find(ctx, name, desired) is None:
            return None
        ctx.say(f"waiting for function {name} Active")
        ctx.clients("lambda").get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=_UPDATE_WAIT)
        return self.find(ctx, name, desired)

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        client = ctx.clients("lambda")
        have = live.config
        architecture = desired.get("architecture") or have.get("architecture") or "x86_64"
        if desired["code_sha256"] != have.get("code_sha256") or architecture != have.get("architecture"):
            # The architecture goes with the code: it is changed by a code update only.
            wait_out(
                lambda: client.update_function_code(
                    FunctionName=name, ZipFile=desired["_zip"], Publish=False, Architectures=[architecture]
                ),
                awaiting=pending_change,
                budget=CONFLICT_BUDGET,
                name=name,
                say=ctx.say,
            )
            self._wait_updated(ctx, name)
        keys = [
            k
            for k in [*_CONFIG_PARAMS, "environment"]
            if k in desired and canonical(desired[k]) != canonical(have.get(k))
        ]
        if keys:
            # Conflict: a code update (ours, or someone's deploy) is still in progress.
            # A new role in the configuration may not be assumable yet: the IAM budget.
            wait_out(
                lambda: client.update_function_configuration(FunctionName=name, **_config_params(desired, keys)),
                awaiting=pending_iam_or_change,
                budget=IAM_BUDGET,
                name=name,
                say=ctx.say,
            )
            self._wait_updated(ctx, name)
        if "reserved_concurrency" in desired and desired["reserved_concurrency"] != have.get("reserved_concurrency"):
            _set_concurrency(client, name, desired["reserved_concurrency"])
        tags = changed_tags(desired.get("tags") or {}, have.get("tags") or {})
        if tags:
            client.tag_resource(Resource=live.outputs["arn"], Tags=tags)
        return self._refind(ctx, name, desired)

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        return unless_not_found(lambda: ctx.clients("lambda").delete_function(FunctionName=name)) is not None

    def drift(self, live: Live, desired: Config) -> list[Change]:
        # The environment is replaced as a whole, so an extra variable is drift too (the default
        # diff ignores keys that only exist on the live side).
        changes = diff_config({k: v for k, v in desired.items() if k != "environment"}, live.config)
        want, have = desired.get("environment") or {}, live.config.get("environment") or {}
        if canonical(want) != canonical(have):
            changes.append(Change("environment", have, want))
        return changes

    def _wait_updated(self, ctx: Context, name: str) -> None:
        ctx.say(f"waiting for function {name} update")
        ctx.clients("lambda").get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=_UPDATE_WAIT)

    def _refind(self, ctx: Context, name: str, desired: Config) -> Live:
        live = self.find(ctx, name, desired)
        if live is None:
            raise RuntimeError(f"function {name} vanished right after it was written")
        return live


def _set_concurrency(client: Any, name: str, reserved: int | None) -> None:
    """Reserve that many concurrent executions for the function, or release its reservation (None)."""
    if reserved is None:
        client.delete_function_concurrency(FunctionName=name)
    else:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


def _split(name: str) -> tuple[str, str]:
    function_name, _, statement_id = name.partition("|")
    return function_name, statement_id


class LambdaPermission(Resource):
    """One statement of a function's resource policy, e.g. "API Gateway may invoke me"."""

    kind = "lambda_permission"
    # A statement cannot be edited in place: any change is a remove and an add.
    replace_on = frozenset({"function_name", "statement_id", "action", "principal", "source_arn"})

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"statement_id": desired["statement_id"]}

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        function_name, statement_id = _split(name)
        resp = unless_not_found(lambda: ctx.clients("lambda").get_policy(FunctionName=function_name))
        if resp is None:  # no policy at all, or no function
            return None
        for st in json.loads(resp["Policy"]).get("Statement", []):
            if st.get("Sid") == statement_id:
                principal = st.get("Principal")
                if isinstance(principal, dict):
                    principal = principal.get("Service") or principal.get("AWS")
                condition = st.get("Condition") or {}
                return Live(
                    outputs={"statement_id": statement_id},
                    config={
                        "function_name": function_name,
                        "statement_id": statement_id,
                        "action": st.get("Action"),
                        "principal": principal,
                        "source_arn": (condition.get("ArnLike") or {}).get("AWS:SourceArn"),
                    },
                )
        return None

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        params: dict[str, Any] = {
            "FunctionName": desired["function_name"],
            "StatementId": desired["statement_id"],
            "Action": desired["action"],
            "Principal": desired["principal"],
        }
        if desired.get("source_arn"):
            params["SourceArn"] = desired["source_arn"]
        # Conflict: another policy change (e.g. a sibling permission) is in progress.
        # Sent again after a lost answer, AWS refuses (the statement id exists) and moto adds a second
        # statement with the same id: single-shot, and look for it after an ambiguous failure.
        wait_out(
            lambda: create_once(
                lambda: ctx.clients("lambda", single_shot=True).add_permission(**params),
                lambda: self.find(ctx, name, desired),
            ),
            awaiting=pending_change,
            budget=CONFLICT_BUDGET,
            name=name,
            say=ctx.say,
        )
        return Live(
            outputs={"statement_id": desired["statement_id"]},
            config={k: v for k, v in desired.items() if not k.startswith("_")},
        )

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        # Statements cannot be edited in place.
        self.delete(ctx, name, live.outputs)
        return self.create(ctx, name, desired)

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        function_name, statement_id = _split(name)
        removed = unless_not_found(
            lambda: wait_out(
                lambda: ctx.clients("lambda").remove_permission(FunctionName=function_name, StatementId=statement_id),
                awaiting=pending_change,
                budget=CONFLICT_BUDGET,
                name=name,
                say=ctx.say,
            )
        )
        return removed is not None


function = LambdaFunction()
permission = LambdaPermission()
