"""Inside a REST API: finding it by name, and its model, validator, resources, methods, integrations.

observe() reads them into the rest_api config shape (plus the ids reconcile needs); reconcile() makes
them match a desired config, touching only what differs. Creating an API is reconcile() on the empty
API, so create and update share one code path.

A lost answer never makes a twin: resources, validators, models and methods are created through a
single-shot client (idempotent.create_once looks for what an unanswered attempt made before sending
it again). Twins some other tool made (two /order resources, two validators of one name) are
observed as config["twins"], which rest_api reports as drift and reconcile removes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orderpoc import graph
from orderpoc.aws_errors import unless_not_found
from orderpoc.idempotent import create_once, delete_once
from orderpoc.resources.base import Change, Config, Context, canonical, diff_config
from orderpoc.resources.util import paginate, pick_ours

RouteKey = tuple[str, str]  # (path, HTTP method)
# Calls inside one API that do not depend on each other go out at once, at most this many. API
# Gateway's fixed control-plane quotas are per account: CreateResource and DeleteResource 5 per
# second, GetResources 5 per 2 seconds, the rest within the account's control-plane rate (10 per
# second, bursts of 40). One API's reconcile is ~18 calls with at most 2 CreateResource and 1-2
# GetResources: a burst, not a rate, and a throttled call is resent (standard retry mode, or
# idempotent.create_once for single-shot creates).
MAX_PARALLEL = 4


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
    twins: list[tuple[str, str]] = field(default_factory=list)  # (kind, id) of each extra copy


def empty(root_id: str) -> Snapshot:
    """A just-created API: only the root resource."""
    return Snapshot({"integration_uri": None, "model": None, "validator": None, "routes": []}, {"/": root_id})


def observe(client: Any, api_id: str, desired: Config) -> Snapshot:
    resources, all_validators, all_models = graph.concurrently(
        lambda: list(paginate(client, "get_resources", "items", restApiId=api_id, embed=["methods"])),
        lambda: list(paginate(client, "get_request_validators", "items", restApiId=api_id)),
        lambda: list(paginate(client, "get_models", "items", restApiId=api_id)),
        max_workers=MAX_PARALLEL,
    )
    kept, twins = _without_twins(resources)
    methods: dict[RouteKey, dict[str, Any]] = {}
    unembedded: list[tuple[RouteKey, str]] = []
    for res in kept:
        for verb, method in (res.get("resourceMethods") or {}).items():
            methods[(res["path"], verb)] = method
            if "methodIntegration" not in method:  # not embedded: ask for it
                unembedded.append(((res["path"], verb), res["id"]))
    integrations = graph.concurrently(
        *(functools.partial(_get_integration, client, api_id, res_id, key[1]) for key, res_id in unembedded),
        max_workers=MAX_PARALLEL,
    )
    for (key, _), integration in zip(unembedded, integrations, strict=True):
        methods[key] = {**methods[key], "methodIntegration": integration}
    # One validator per name: the one the methods use is kept, other copies are twins.
    in_use = {m.get("requestValidatorId") for m in methods.values()}
    validators: dict[str, dict[str, Any]] = {}
    for v in sorted(all_validators, key=lambda v: (v["id"] not in in_use, v["id"])):
        if v["name"] in validators:
            twins.append(("validator", v["id"]))
        else:
            validators[v["name"]] = v
    models = {m["name"]: m for m in all_models}

    want_model = desired.get("model") or {}
    content_type = want_model.get("content_type", "application/json")
    validator = validators.get((desired.get("validator") or {}).get("name", ""))
    routes = {key: _route(key, m, validator["id"] if validator else None, content_type) for key, m in methods.items()}
    order = [(r["path"], r["method"]) for r in desired.get("routes", [])]
    labels = {r["id"]: r["path"] for r in resources} | {v["id"]: v["name"] for v in all_validators}
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
        "twins": sorted(f"{kind} {labels[twin_id]}" for kind, twin_id in twins),
    }
    return Snapshot(config, {r["path"]: r["id"] for r in kept}, methods, validators, routes, twins)


def _without_twins(resources: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """One resource per path, and the (kind, id) of the others. A path's copy that serves methods,
    then the one with children, is the one kept (its twins are removed with their subtrees)."""
    children = {r.get("parentId") for r in resources}
    by_path: dict[str, list[dict[str, Any]]] = {}
    for res in resources:
        by_path.setdefault(res["path"], []).append(res)
    kept, twins = [], []
    for copies in by_path.values():
        copies.sort(key=lambda r: (-len(r.get("resourceMethods") or {}), r["id"] not in children, r["id"]))
        kept.append(copies[0])
        twins += [("resource", r["id"]) for r in copies[1:]]
    return kept, twins


def reconcile(client: Any, single_shot: Any, api_id: str, snap: Snapshot, desired: Config) -> None:
    """Make the API's insides match `desired`; single_shot: the client creates go through.

    The writes form a small graph run in parallel (at most MAX_PARALLEL at once): the validator, the
    model and each missing path segment first (a segment after its parent), then each route's method
    and integration once its path, the validator and the model are there. Each child is created by
    exactly one node, single-shot, so parallel creates never race each other into twins.
    """
    if snap.twins:
        _remove_twins(client, single_shot, api_id, snap.twins)
        snap = observe(client, api_id, desired)
    content_type = (desired.get("model") or {}).get("content_type", "application/json")
    uri = desired["integration_uri"]
    resource_ids = snap.resource_ids  # each path node writes only its own path
    routes = {(route["path"], route["method"]): route for route in desired.get("routes", [])}
    jobs: dict[str, Callable[[Mapping[str, Any]], Any]] = {
        "validator": lambda _: _ensure_validator(client, single_shot, api_id, snap, desired.get("validator")),
        "model": lambda _: _ensure_model(client, single_shot, api_id, snap, desired.get("model")),
    }
    deps: dict[str, tuple[str, ...]] = {"validator": (), "model": ()}
    missing = {prefix for route_path, _ in routes for prefix in _prefixes(route_path)} - resource_ids.keys()
    for path in sorted(missing):
        parent = path.rpartition("/")[0] or "/"
        deps[f"path {path}"] = (f"path {parent}",) if parent not in resource_ids else ()
        jobs[f"path {path}"] = functools.partial(
            lambda path, _: _ensure_path(client, single_shot, api_id, resource_ids, path), path
        )

    def converge_route(key: RouteKey, done: Mapping[str, Any]) -> None:
        route, resource_id = routes[key], resource_ids[key[0]]
        method = None if key in done["model"] else snap.methods.get(key)
        if method is None or route_diff(route, snap.routes[key]):
            if method is not None:  # put_method refuses to overwrite an existing method
                _delete_method(client, api_id, resource_id, key[1])
            _put_method(client, single_shot, api_id, resource_id, route, done["validator"], content_type)
            method = None
        if method is None or not _integration_ok(method, uri):
            client.put_integration(  # a PUT: sent again after a lost answer, it writes the same
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=key[1],
                type="AWS_PROXY",
                integrationHttpMethod="POST",
                uri=uri,
            )

    for key in routes:
        path_node = f"path {key[0]}"
        deps[f"route {key}"] = ("validator", "model", *([path_node] if path_node in deps else []))
        jobs[f"route {key}"] = functools.partial(converge_route, key)

    def remove_unwanted(done: Mapping[str, Any]) -> None:  # methods nobody asked for are not exposed
        for key in snap.methods.keys() - routes.keys() - done["model"]:
            _delete_method(client, api_id, snap.resource_ids[key[0]], key[1])

    deps["unwanted"], jobs["unwanted"] = ("model",), remove_unwanted
    graph.run_or_raise(deps, lambda node, done: jobs[node](done), max_workers=MAX_PARALLEL)


def _prefixes(path: str) -> list[str]:
    """ "/order/{orderId}" -> ["/order", "/order/{orderId}"] (the root always exists)."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts)) if parts[0]]


def _remove_twins(client: Any, single_shot: Any, api_id: str, twins: list[tuple[str, str]]) -> None:
    for kind, twin_id in twins:  # a resource's subtree goes with it: a nested twin may be gone already
        if kind == "resource":
            delete, get, ids = single_shot.delete_resource, client.get_resource, {"resourceId": twin_id}
        else:
            delete, get = single_shot.delete_request_validator, client.get_request_validator
            ids = {"requestValidatorId": twin_id}
        delete_once(functools.partial(delete, restApiId=api_id, **ids), functools.partial(_gone, get, api_id, ids))


def _gone(get: Any, api_id: str, ids: dict[str, str]) -> bool:
    return unless_not_found(lambda: get(restApiId=api_id, **ids)) is None


def _delete_method(client: Any, api_id: str, resource_id: str, verb: str) -> None:
    # Sent again after a lost answer, AWS says NotFound: the method is gone, which was the point.
    unless_not_found(lambda: client.delete_method(restApiId=api_id, resourceId=resource_id, httpMethod=verb))


def route_diff(want: Config, have: Config, prefix: str = "") -> list[Change]:
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


def _ensure_validator(client: Any, single_shot: Any, api_id: str, snap: Snapshot, want: Config | None) -> str | None:
    if not want:
        return None
    body, params = bool(want["validate_body"]), bool(want["validate_parameters"])
    have = snap.validators.get(want["name"])
    if have is None:

        def find() -> dict[str, Any] | None:
            items = paginate(client, "get_request_validators", "items", restApiId=api_id)
            return next((v for v in items if v["name"] == want["name"]), None)

        created = create_once(
            lambda: single_shot.create_request_validator(
                restApiId=api_id, name=want["name"], validateRequestBody=body, validateRequestParameters=params
            ),
            find,
        )
        return str(created["id"])
    ops = [
        {"op": "replace", "path": f"/{attr}", "value": str(value).lower()}
        for attr, value in (("validateRequestBody", body), ("validateRequestParameters", params))
        if bool(have.get(attr)) != value
    ]
    if ops:
        client.update_request_validator(restApiId=api_id, requestValidatorId=have["id"], patchOperations=ops)
    return str(have["id"])


def _ensure_model(client: Any, single_shot: Any, api_id: str, snap: Snapshot, want: Config | None) -> set[RouteKey]:
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
                _delete_method(client, api_id, snap.resource_ids[key[0]], key[1])
                deleted.add(key)
        unless_not_found(lambda: client.delete_model(restApiId=api_id, modelName=want["name"]))
    schema = json.dumps(want["schema"])
    create_once(
        lambda: single_shot.create_model(
            restApiId=api_id, name=want["name"], contentType=want["content_type"], schema=schema
        ),
        # What an unanswered attempt made: the model of that name with this schema.
        lambda: unless_not_found(lambda: _same_model(client.get_model(restApiId=api_id, modelName=want["name"]), want)),
    )
    return deleted


def _same_model(model: dict[str, Any], want: Config) -> dict[str, Any] | None:
    return model if canonical(_model(model)) == canonical(want) else None


def _ensure_path(client: Any, single_shot: Any, api_id: str, resource_ids: dict[str, str], path: str) -> str:
    """The id of the resource at `path`, creating missing segments (/order, then /order/{orderId})."""
    if path in resource_ids:
        return resource_ids[path]
    parent, _, part = path.rpartition("/")
    parent_id = _ensure_path(client, single_shot, api_id, resource_ids, parent or "/")

    def find() -> dict[str, Any] | None:
        items = paginate(client, "get_resources", "items", restApiId=api_id)
        return next((r for r in items if r.get("parentId") == parent_id and r.get("pathPart") == part), None)

    created = create_once(
        lambda: single_shot.create_resource(restApiId=api_id, parentId=parent_id, pathPart=part), find
    )
    resource_ids[path] = str(created["id"])
    return resource_ids[path]


def _put_method(
    client: Any,
    single_shot: Any,
    api_id: str,
    resource_id: str,
    route: Config,
    validator_id: str | None,
    content_type: str,
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
    # Sent again after a lost answer, AWS refuses ("Method already exists"): look for it instead.
    create_once(
        lambda: single_shot.put_method(**params),
        lambda: unless_not_found(
            lambda: client.get_method(restApiId=api_id, resourceId=resource_id, httpMethod=route["method"])
        ),
    )
