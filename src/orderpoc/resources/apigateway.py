"""API Gateway REST API (kind "rest_api"); stage, key and usage plan kinds are re-exported here.

The API is found by name (preferring the one tagged with our stack); its insides (model, validator,
routes, Lambda proxy integrations) are read and reconciled by apigateway_routes.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from orderpoc import graph
from orderpoc.aws_errors import unless_not_found
from orderpoc.idempotent import create_once, delete_once
from orderpoc.resources import apigateway_routes as routes
from orderpoc.resources.apigateway_access import api_key, usage_plan
from orderpoc.resources.apigateway_routes import find_api
from orderpoc.resources.apigateway_stage import stage
from orderpoc.resources.base import UNKNOWN, Change, Config, Context, Live, Outputs, Resource, diff_config
from orderpoc.resources.util import changed_tags, say_retry

__all__ = ["RestApi", "api_key", "find_api", "rest_api", "stage", "usage_plan"]


def _endpoint_type(api: dict[str, Any]) -> str | None:
    types = (api.get("endpointConfiguration") or {}).get("types") or [None]
    return types[0]


class RestApi(Resource):
    kind = "rest_api"

    def planned_outputs(self, ctx: Context, name: str, desired: Config) -> Outputs:
        return {"id": UNKNOWN, "name": name, "root_id": UNKNOWN, "arn": UNKNOWN, "execute_arn": UNKNOWN}

    def find(self, ctx: Context, name: str, desired: Config) -> Live | None:
        api = find_api(ctx, name)
        return None if api is None else self._live(ctx, api, desired)

    def create(self, ctx: Context, name: str, desired: Config) -> Live:
        client = ctx.clients("apigateway")
        api = create_once(
            lambda: ctx.clients("apigateway", single_shot=True).create_rest_api(
                name=name,
                description=desired.get("description", ""),
                endpointConfiguration={"types": [desired["endpoint_type"]]},
                tags=desired.get("tags") or {},
            ),
            lambda: find_api(ctx, name),
            on_wait=say_retry(ctx, name),
        )
        # Observed, not assumed empty: an API adopted after a lost answer may hold some routes already.
        single_shot = ctx.clients("apigateway", single_shot=True)
        graph.concurrently(  # the gateway responses do not depend on the routes
            lambda: routes.reconcile(
                client, single_shot, api["id"], routes.observe(client, api["id"], desired), desired
            ),
            lambda: _put_gateway_responses(client, api["id"], desired, {}),
        )
        return self._live(ctx, api, desired)

    def update(self, ctx: Context, name: str, live: Live, desired: Config) -> Live:
        client = ctx.clients("apigateway")
        api_id, have = live.outputs["id"], live.config
        ops = []
        if desired.get("description", "") != have.get("description"):
            ops.append({"op": "replace", "path": "/description", "value": desired.get("description", "")})
        if desired["endpoint_type"] != have.get("endpoint_type"):
            ops.append(
                {
                    "op": "replace",
                    "path": f"/endpointConfiguration/types/{have.get('endpoint_type')}",
                    "value": desired["endpoint_type"],
                }
            )
        if ops:
            client.update_rest_api(restApiId=api_id, patchOperations=ops)
        tags = changed_tags(desired.get("tags") or {}, have.get("tags") or {})
        if tags:
            client.tag_resource(resourceArn=live.outputs["arn"], tags=tags)
        # Re-read: reconcile needs resource/method/validator ids, which the config does not keep.
        single_shot = ctx.clients("apigateway", single_shot=True)
        graph.concurrently(
            lambda: routes.reconcile(client, single_shot, api_id, routes.observe(client, api_id, desired), desired),
            lambda: _put_gateway_responses(client, api_id, desired, have.get("gateway_responses") or {}),
        )
        return self._live(ctx, client.get_rest_api(restApiId=api_id), desired)

    def exists(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        api_id = (outputs or {}).get("id")
        if not api_id:
            return find_api(ctx, name) is not None
        return unless_not_found(lambda: ctx.clients("apigateway").get_rest_api(restApiId=api_id)) is not None

    def delete(self, ctx: Context, name: str, outputs: Outputs | None) -> bool:
        client = ctx.clients("apigateway")
        api_id = (outputs or {}).get("id")
        if api_id:  # read first: moto fails with a 500 (KeyError) deleting an unknown id
            if unless_not_found(lambda: client.get_rest_api(restApiId=api_id)) is None:
                return False
        else:
            api = find_api(ctx, name)
            if api is None:
                return False
            api_id = api["id"]
        # AWS allows one DeleteRestApi per 30 s per account: throttling waits long. Sent again after a
        # lost answer the delete finds nothing (AWS) or fails with a 500 (moto): ask instead.
        return delete_once(
            lambda: ctx.clients("apigateway", single_shot=True).delete_rest_api(restApiId=api_id),
            lambda: unless_not_found(lambda: client.get_rest_api(restApiId=api_id)) is None,
            attempts=8,
            base_delay=10.0,
            max_delay=30.0,
            on_wait=lambda msg, delay: ctx.say(f"{name}: {msg} in {delay:.0f}s (1 API delete per 30 s)"),
        )

    def drift(self, live: Live, desired: Config) -> list[Change]:
        # Routes compared one by one, so a change names the route ("routes.GET /order/{orderId}")
        # and the field; a missing route has live None, one nobody declared desired None.
        changes = diff_config({k: v for k, v in desired.items() if k != "routes"}, live.config)
        have = {(r["path"], r["method"]): r for r in live.config.get("routes") or []}
        want = {(r["path"], r["method"]): r for r in desired.get("routes") or []}
        for (path, verb), route in want.items():
            if (path, verb) not in have:
                changes.append(Change(f"routes.{verb} {path}", None, route))
            else:
                changes += routes.route_diff(route, have[(path, verb)], prefix=f"routes.{verb} {path}.")
        changes += [
            Change(f"routes.{verb} {path}", have[(path, verb)], None) for path, verb in have if (path, verb) not in want
        ]
        # Twins (made by another tool): "resource /order", 2 copies -> 1; up removes the extra ones.
        twins = Counter(live.config.get("twins") or [])
        changes += [Change(twin, extra + 1, 1) for twin, extra in sorted(twins.items())]
        return changes

    def _live(self, ctx: Context, api: dict[str, Any], desired: Config) -> Live:
        client = ctx.clients("apigateway")
        wants_responses = "gateway_responses" in desired
        snap, responses = graph.concurrently(
            lambda: routes.observe(client, api["id"], desired),
            lambda: _observe_gateway_responses(client, api["id"]) if wants_responses else None,
        )
        config = {
            "description": api.get("description") or "",
            "endpoint_type": _endpoint_type(api),
            "tags": api.get("tags") or {},
            **snap.config,
        }
        if wants_responses:
            config["gateway_responses"] = responses
        outputs = {
            "id": api["id"],
            "name": api["name"],
            "root_id": api.get("rootResourceId") or snap.resource_ids.get("/"),
            "arn": f"arn:{ctx.partition}:apigateway:{ctx.region}::/restapis/{api['id']}",
            "execute_arn": ctx.arn("execute-api", api["id"]),
        }
        return Live(outputs=outputs, config=config)


def _observe_gateway_responses(client: Any, api_id: str) -> Config:
    """Customised gateway responses (e.g. a 400 that says why validation failed), by type."""
    items = client.get_gateway_responses(restApiId=api_id, limit=500).get("items", [])
    return {
        r["responseType"]: {"status_code": r.get("statusCode"), "templates": r.get("responseTemplates") or {}}
        for r in items
        if not r.get("defaultResponse")
    }


def _put_gateway_responses(client: Any, api_id: str, desired: Config, have: Config) -> None:
    # PUTs, one per response type: independent, and the same write when sent again.
    graph.concurrently(
        *(
            functools.partial(
                client.put_gateway_response,
                restApiId=api_id,
                responseType=kind,
                statusCode=want["status_code"],
                responseTemplates=want["templates"],
            )
            for kind, want in (desired.get("gateway_responses") or {}).items()
            if have.get(kind) != want
        ),
        max_workers=routes.MAX_PARALLEL,
    )


rest_api = RestApi()
