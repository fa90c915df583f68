"""API Gateway stage (kind "api_stage"): what clients call, pinned to a deployment of the API.

The desired "revision" (a hash of the rest_api config, computed by the stack) is stored as the
description of the deployment the stage points at. A rerun compares it with the live deployment's
description: equal means the stage already serves this API, different means deploy again.
"""

from __future__ import annotations

import contextlib
from typing import Any

import botocore.exceptions

from orderpoc.aws_errors import unless_not_found
from orderpoc.idempotent import create_once, delete_once
from orderpoc.resources.apigateway_routes import find_api
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource, canonical, is_unknown
from orderpoc.resources.util import changed_tags, from_aws, paginate, say_retry
from orderpoc.settings import Names

# method_settings key (get_stage's methodSettings in snake_case) -> update_stage patch path below
# /{resource}/{method}/
SETTING_PATHS = {
    "throttling_rate_limit": "throttling/rateLimit",
    "throttling_burst_limit": "throttling/burstLimit",
    "metrics_enabled": "metrics/enabled",
    "logging_level": "logging/loglevel",
    "data_trace_enabled": "logging/dataTrace",
    "caching_enabled": "caching/enabled",
}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _settings_ops(want: dict[str, Any], have: dict[str, Any]) -> list[dict[str, str]]:
    """Patch operations for the stage-wide (*/*) method settings that differ."""
    ops = []
    for key, value in want.items():
        if key not in SETTING_PATHS:
            raise ValueError(f"unsupported stage method setting {key!r}: use one of {sorted(SETTING_PATHS)}")
        if canonical(value) != canonical(have.get(key)):
            ops.append({"op": "replace", "path": f"/*/*/{SETTING_PATHS[key]}", "value": _text(value)})
    return ops


class ApiStage(Resource):
    kind = "api_stage"
    replace_on = frozenset({"rest_api_id"})  # a stage belongs to one API

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        api_id = desired["rest_api_id"]
        if is_unknown(api_id):  # the API is yet to be created, so is its stage
            return None
        client = ctx.clients("apigateway")
        found = unless_not_found(lambda: client.get_stage(restApiId=api_id, stageName=name))
        if found is None:  # no such stage, or no such API
            return None
        revision, twins = None, []
        if found.get("deploymentId"):
            # Read from the list, not get_deployment: copies of the served revision that some other
            # tool (or a retried create) made are twins, drift that update removes.
            deployments = unless_not_found(lambda: list(paginate(client, "get_deployments", "items", restApiId=api_id)))
            served: dict[str, Any] = next((d for d in deployments or [] if d["id"] == found["deploymentId"]), {})
            revision = served.get("description")
            twins = sorted(
                d["id"] for d in deployments or [] if d["id"] != served.get("id") and d.get("description") == revision
            )
        config = {
            "rest_api_id": api_id,
            "revision": revision,
            "description": found.get("description") or "",
            "tags": found.get("tags") or {},
            "method_settings": from_aws((found.get("methodSettings") or {}).get("*/*") or {}),
            "twin_deployments": twins,
        }
        return Live(outputs=self._outputs(ctx, api_id, name, found.get("deploymentId")), config=config)

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"stage": name, "rest_api_id": desired["rest_api_id"], "deployment_id": UNKNOWN, "invoke_url": UNKNOWN}

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        client = ctx.clients("apigateway")
        api_id = desired["rest_api_id"]
        client.create_stage(
            restApiId=api_id,
            stageName=name,
            deploymentId=_deployment(ctx, api_id, desired["revision"]),
            description=desired.get("description", ""),
            tags=desired.get("tags") or {},
        )
        ops = _settings_ops(desired.get("method_settings") or {}, {})
        if ops:  # create_stage takes no method settings
            client.update_stage(restApiId=api_id, stageName=name, patchOperations=ops)
        return self._refind(ctx, name, desired)

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        client = ctx.clients("apigateway")
        api_id, have = desired["rest_api_id"], live.config
        ops = _settings_ops(desired.get("method_settings") or {}, have.get("method_settings") or {})
        old_deployment = None
        if desired["revision"] != have.get("revision"):
            ctx.say(f"deploying the API to stage {name}")
            deployment_id = _deployment(ctx, api_id, desired["revision"])
            ops.append({"op": "replace", "path": "/deploymentId", "value": deployment_id})
            old_deployment = live.outputs.get("deployment_id")
        if desired.get("description", "") != have.get("description"):
            ops.append({"op": "replace", "path": "/description", "value": desired.get("description", "")})
        if ops:
            client.update_stage(restApiId=api_id, stageName=name, patchOperations=ops)
        tags = changed_tags(desired.get("tags") or {}, have.get("tags") or {})
        if tags:
            client.tag_resource(resourceArn=self._arn(ctx, api_id, name), tags=tags)
        if old_deployment:
            _forget_deployment(client, api_id, old_deployment)
        for twin in have.get("twin_deployments") or []:
            _forget_deployment(client, api_id, twin)
        return self._refind(ctx, name, desired)

    def drift(self, live: Live, desired: Config) -> list[Change]:
        twins = live.config.get("twin_deployments") or []
        # Copies of the served deployment (made by another tool): 2 copies -> 1; update removes them.
        return super().drift(live, desired) + (
            [Change("deployment of the served revision", len(twins) + 1, 1)] if twins else []
        )

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        return self._located(ctx, name, outputs) is not None

    def _located(self, ctx: Context, name: str, outputs: Outputs | None) -> tuple[str, dict[str, Any]] | None:
        """(API id, stage) of the stage delete() removes, or None."""
        api_id = (outputs or {}).get("rest_api_id")
        if not api_id:  # state lost: the stage can only belong to this stack's API
            api = find_api(ctx, Names(ctx.stack).api, require_tag=True)
            if api is None:
                return None
            api_id = api["id"]
        found = unless_not_found(lambda: ctx.clients("apigateway").get_stage(restApiId=api_id, stageName=name))
        return None if found is None else (api_id, found)

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        client = ctx.clients("apigateway")
        located = self._located(ctx, name, outputs)
        if located is None:
            return False
        api_id, found = located
        # Sent again after a lost answer the delete finds nothing: done, and its deployment goes too.
        delete_once(
            lambda: ctx.clients("apigateway", single_shot=True).delete_stage(restApiId=api_id, stageName=name),
            lambda: unless_not_found(lambda: client.get_stage(restApiId=api_id, stageName=name)) is None,
        )
        if found.get("deploymentId"):
            _forget_deployment(client, api_id, found["deploymentId"])
        return True

    def _refind(self, ctx: Context, name: str, desired: Config) -> Live:
        live = self.find(ctx, name, desired)
        if live is None:
            raise RuntimeError(f"stage {name} vanished right after it was written")
        return live

    def _arn(self, ctx: Context, api_id: str, name: str) -> str:
        return f"arn:{ctx.partition}:apigateway:{ctx.region}::/restapis/{api_id}/stages/{name}"

    def _outputs(self, ctx: Context, api_id: str, name: str, deployment_id: str | None) -> Outputs:
        return {
            "stage": name,
            "rest_api_id": api_id,  # delete needs it
            "deployment_id": deployment_id,
            "invoke_url": invoke_url(ctx, api_id, name, ctx.clients.endpoint_url),
        }


def invoke_url(ctx: Context, api_id: str, stage: str, endpoint_url: str | None = None) -> str:
    """Where a stage is served: LocalStack's form behind a custom endpoint (the embedded AWS
    included), else API Gateway's own domain."""
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_"
    domain = "amazonaws.com.cn" if ctx.partition == "aws-cn" else "amazonaws.com"
    return f"https://{api_id}.execute-api.{ctx.region}.{domain}/{stage}"


def _deployment(ctx: Context, api_id: str, revision: str) -> str:
    """A deployment of this revision: the one a run that crashed before pointing the stage at it left
    behind (find before create: a rerun makes no second one), else a new one."""
    client = ctx.clients("apigateway")

    def find() -> str | None:
        for deployment in paginate(client, "get_deployments", "items", restApiId=api_id):
            if deployment.get("description") == revision:
                return str(deployment["id"])
        return None

    single_shot = ctx.clients("apigateway", single_shot=True)
    return find() or create_once(
        lambda: str(single_shot.create_deployment(restApiId=api_id, description=revision)["id"]),
        find,
        on_wait=say_retry(ctx, "deployment"),
    )


def _forget_deployment(client: Any, api_id: str, deployment_id: str) -> None:
    """Best effort: drop a deployment no stage serves any more, so they do not pile up per change.

    AWS refuses while another stage still points at it; that stage is not ours to judge, so leave it.
    """
    with contextlib.suppress(botocore.exceptions.ClientError):
        client.delete_deployment(restApiId=api_id, deploymentId=deployment_id)


stage = ApiStage()
