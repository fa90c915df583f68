"""Inside a REST API: finding it by name, and its model, validator, resources, methods, integrations.

observe() reads them into the rest_api config shape (plus the ids reconcile needs); reconcile() makes
them match a desired config, touching only what differs. Creating an API is reconcile() on the empty
API, so create and update share one code path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from orderpoc.aws import unless_not_found
from orderpoc.resources.base import Config, Context, canonical, diff_config
from orderpoc.resources.util import paginate, pick_ours

RouteKey = tuple[str, str]  # (path, HTTP method)


def find_api(ctx: Context, name: str, *, require_tag: bool = False) -> dict[str, Any] | None:
    """The REST API called `name`; names are not unique, so prefer the one tagged with our stack."""
    apis = list(paginate(ctx.clients("apigateway"), "get_rest_apis", "items"))
    return pick_ours(ctx, apis, name, require_tag=require_tag)


@dataclass
class Snapshot:
    config: Config  # integration_uri, model, validator, routes - in the desired shape
    resource_ids: dict[str, str]  # path -> resource id
    methods: dict[RouteKey, dict[str, Any]] = field(default_factory=dict)
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> validator
    routes: dict[RouteKey, Config] = field(default_factory=dict)  # observed route configs


def empty(root_id: str) -> Snapshot:
    """A just-created API: only the root resource."""
    return Snapshot({"integration_uri": None, "model": None, "validator": None, "routes": []}, {"/": root_id})


def observe(client: Any, api_id: str, desired: Config) -> Snapshot:
    resources = list(paginate(client, "get_resources", "items", restApiId=api_id, embed=["methods"]))
    methods: dict[RouteKey, dict[str, Any]] = {}
    for res in resources:
        for verb, method in (res.get("resourceMethods") or {}).items():
            if "methodIntegration" not in method:  # not embedded: ask for it
                method = {**method, "methodIntegration": _get_integration(client, api_id, res["id"], verb)}
            methods[(res["path"], verb)] = method
    validators = {v["name"]: v for v in paginate(client, "get_request_validators", "items", restApiId=api_id)}
    models = {m["name"]: m for m in paginate(client, "get_models", "items", restApiId=api_id)}

    want_model = desired.get("model") or {}
    content_type = want_model.get("content_type", "application/json")
    validator = validators.get((desired.get("validator") or {}).get("name", ""))
    routes = {key: _route(key, m, validator["id"] if validator else None, content_type) for key, m in methods.items()}
    order = [(r["path"], r["method"]) for r in desired.get("routes", [])]
    config = {
        "integration_uri": _observed_uri(desired, [methods[k] for k in order if k in methods]),
        "model": _model(models.get(want_model.get("name", ""))),
        "validator": validator
        and {
            "name": validator["name"],
            "validate_body": bool(validator.get("validateRequestBody")),
            "validate_parameters": bool(validator.get("validateRequestParameters")),
        },
        # desired order first so equal sets compare equal; extra methods after, sorted
        "routes": [routes[k] for k in order if k in routes] + [routes[k] for k in sorted(routes) if k not in order],
    }
    return Snapshot(config, {r["path"]: r["id"] for r in resources}, methods, validators, routes)


def reconcile(client: Any, api_id: str, snap: Snapshot, desired: Config) -> None:
    validator_id = _ensure_validator(client, api_id, snap, desired.get("validator"))
    deleted = _ensure_model(client, api_id, snap, desired.get("model"))
    content_type = (desired.get("model") or {}).get("content_type", "application/json")
    uri = desired["integration_uri"]
    wanted: set[RouteKey] = set()
    for route in desired.get("routes", []):
        key = (route["path"], route["method"])
        wanted.add(key)
        resource_id = _ensure_path(client, api_id, snap.resource_ids, route["path"])
        method = None if key in deleted else snap.methods.get(key)
        if method is None or route_diff(route, snap.routes[key]):
            if method is not None:  # put_method refuses to overwrite an existing method
                client.delete_method(restApiId=api_id, resourceId=resource_id, httpMethod=key[1])
            _put_method(client, api_id, resource_id, route, validator_id, content_type)
            method = None
        if method is None or not _integration_ok(method, uri):
            client.put_integration(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=key[1],
                type="AWS_PROXY",
                integrationHttpMethod="POST",
                uri=uri,
            )
    for key in snap.methods.keys() - wanted - deleted:  # methods nobody asked for are not exposed
        client.delete_method(restApiId=api_id, resourceId=snap.resource_ids[key[0]], httpMethod=key[1])


def route_diff(want: Config, have: Config, prefix: str = "") -> list[str]:
    """diff_config for one route, with request_parameters compared whole: an extra parameter
    someone added is drift too (the default diff ignores keys only the live side has)."""

    def flat(route: Config) -> Config:
        return {k: canonical(v) if isinstance(v, dict) else v for k, v in route.items()}

    return diff_config(flat(want), flat(have), prefix)


def _route(key: RouteKey, method: dict[str, Any], validator_id: str | None, content_type: str) -> Config:
    return {
        "path": key[0],
        "method": key[1],
        "api_key_required": bool(method.get("apiKeyRequired")),
        "validate": validator_id is not None and method.get("requestValidatorId") == validator_id,
        "model": (method.get("requestModels") or {}).get(content_type),
        "request_parameters": method.get("requestParameters") or {},
    }


def _integration_ok(method: dict[str, Any], uri: str) -> bool:
    i = method.get("methodIntegration") or {}
    return i.get("type") == "AWS_PROXY" and i.get("httpMethod") == "POST" and i.get("uri") == uri


def _observed_uri(desired: Config, methods: list[dict[str, Any]]) -> str | None:
    """The desired URI when every desired route integrates with it, else the first deviating one."""
    uri = desired.get("integration_uri")
    for method in methods:
        if not _integration_ok(method, uri or ""):
            i = method.get("methodIntegration") or {}
            return f"{i.get('type')} {i.get('httpMethod')} {i.get('uri')}" if i else None
    return uri if methods else None


def _model(model: dict[str, Any] | None) -> Config | None:
    if model is None:
        return None
    try:
        schema = json.loads(model.get("schema") or "null")
    except ValueError:
        schema = model.get("schema")
    return {"name": model["name"], "content_type": model.get("contentType"), "schema": schema}


def _get_integration(client: Any, api_id: str, resource_id: str, verb: str) -> dict[str, Any] | None:
    found = unless_not_found(lambda: client.get_integration(restApiId=api_id, resourceId=resource_id, httpMethod=verb))
    if found is None:
        return None
    found.pop("ResponseMetadata", None)
    return found or None  # moto answers "null" for a method without integration


def _ensure_validator(client: Any, api_id: str, snap: Snapshot, want: Config | None) -> str | None:
    if not want:
        return None
    body, params = bool(want["validate_body"]), bool(want["validate_parameters"])
    have = snap.validators.get(want["name"])
    if have is None:
        return str(
            client.create_request_validator(
                restApiId=api_id,
                name=want["name"],
                validateRequestBody=body,
                validateRequestParameters=params,
            )["id"]
        )
    ops = [
        {"op": "replace", "path": f"/{attr}", "value": str(value).lower()}
        for attr, value in (("validateRequestBody", body), ("validateRequestParameters", params))
        if bool(have.get(attr)) != value
    ]
    if ops:
        client.update_request_validator(restApiId=api_id, requestValidatorId=have["id"], patchOperations=ops)
    return str(have["id"])


def _ensure_model(client: Any, api_id: str, snap: Snapshot, want: Config | None) -> set[RouteKey]:
    """Create or replace the model; returns the methods deleted because they referenced it.

    A changed model is replaced rather than patched with update_model: moto has no update_model,
    and a content type cannot be patched anyway. On AWS this is just as safe, because a stage
    serves its deployment's snapshot: the API's draft is briefly without the methods, the live
    stage never is (api_stage deploys the finished draft afterwards).
    """
    have = snap.config["model"]
    if not want or (have is not None and canonical(want) == canonical(have)):
        return set()
    deleted: set[RouteKey] = set()
    if have is not None:
        for key, method in snap.methods.items():  # AWS refuses to delete a model still in use
            if want["name"] in (method.get("requestModels") or {}).values():
                client.delete_method(restApiId=api_id, resourceId=snap.resource_ids[key[0]], httpMethod=key[1])
                deleted.add(key)
        client.delete_model(restApiId=api_id, modelName=want["name"])
    client.create_model(
        restApiId=api_id,
        name=want["name"],
        contentType=want["content_type"],
        schema=json.dumps(want["schema"]),
    )
    return deleted


def _ensure_path(client: Any, api_id: str, resource_ids: dict[str, str], path: str) -> str:
    """The id of the resource at `path`, creating missing segments (/order, then /order/{orderId})."""
    if path in resource_ids:
        return resource_ids[path]
    parent, _, part = path.rpartition("/")
    parent_id = _ensure_path(client, api_id, resource_ids, parent or "/")
    resource_ids[path] = str(client.create_resource(restApiId=api_id, parentId=parent_id, pathPart=part)["id"])
    return resource_ids[path]


def _put_method(
    client: Any, api_id: str, resource_id: str, route: Config, validator_id: str | None, content_type: str
) -> None:
    params: dict[str, Any] = {
        "restApiId": api_id,
        "resourceId": resource_id,
        "httpMethod": route["method"],
        "authorizationType": "NONE",
        "apiKeyRequired": bool(route["api_key_required"]),
        "requestParameters": route.get("request_parameters") or {},
        "requestModels": {content_type: route["model"]} if route.get("model") else {},
    }
    if route.get("validate") and validator_id:
        params["requestValidatorId"] = validator_id
    client.put_method(**params)
