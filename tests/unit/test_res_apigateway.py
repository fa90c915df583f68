"""REST API and stage kinds against in-process moto."""

from __future__ import annotations

import copy
import json

from apigw_helpers import API, URI, api_desired, resource_ids

from orderpoc.aws_calls import is_mutating
from orderpoc.resources.apigateway import rest_api, stage
from orderpoc.resources.base import Change


def test_find_nothing(ctx):
    assert rest_api.find(ctx, API, api_desired(ctx)) is None


def test_create_builds_the_api_and_rerun_is_free(ctx, calls):
    want = api_desired(ctx)
    created = rest_api.create(ctx, API, want)
    api_id = created.outputs["id"]
    assert created.outputs == {
        "id": api_id,
        "name": API,
        "root_id": resource_ids(ctx, api_id)["/"],
        "arn": f"arn:aws:apigateway:us-east-1::/restapis/{api_id}",
        "execute_arn": f"arn:aws:execute-api:us-east-1:{ctx.account}:{api_id}",
    }
    client = ctx.clients("apigateway")
    ids = resource_ids(ctx, api_id)
    post = client.get_method(restApiId=api_id, resourceId=ids["/order"], httpMethod="POST")
    assert post["apiKeyRequired"] is True and post["requestModels"] == {"application/json": "Order"}
    assert post["methodIntegration"]["type"] == "AWS_PROXY" and post["methodIntegration"]["uri"] == URI
    assert post["methodIntegration"]["httpMethod"] == "POST"
    get = client.get_method(restApiId=api_id, resourceId=ids["/order/{orderId}"], httpMethod="GET")
    assert get["requestParameters"] == {"method.request.path.orderId": True}
    assert get["requestValidatorId"] == post["requestValidatorId"]
    assert rest_api.drift(created, want) == []
    calls.clear()
    live = rest_api.find(ctx, API, want)
    assert live.outputs == created.outputs
    assert rest_api.drift(live, want) == [] and calls.mutating == []


def test_prefers_the_api_tagged_with_our_stack(ctx):
    ctx.clients("apigateway").create_rest_api(name=API, tags={"orderpoc:stack": "someone-else"})
    ours = rest_api.create(ctx, API, api_desired(ctx))
    assert rest_api.find(ctx, API, api_desired(ctx)).outputs["id"] == ours.outputs["id"]


def test_model_schema_change_replaces_model_and_its_methods(ctx, calls, api):
    want = api_desired(ctx)
    want["model"] = copy.deepcopy(want["model"])
    want["model"]["schema"]["required"] = ["customerId", "items"]
    live = rest_api.find(ctx, API, want)
    assert [d.field for d in rest_api.drift(live, want)] == ["model.schema.required"]
    calls.clear()
    fixed = rest_api.update(ctx, API, live, want)
    assert calls.mutating == ["DeleteMethod", "DeleteModel", "CreateModel", "PutMethod", "PutIntegration"]
    assert rest_api.drift(fixed, want) == []
    model = ctx.clients("apigateway").get_model(restApiId=api["id"], modelName="Order")
    assert json.loads(model["schema"])["required"] == ["customerId", "items"]


def test_out_of_band_method_change_is_put_back(ctx, calls, api):
    client, want = ctx.clients("apigateway"), api_desired(ctx)
    ids = resource_ids(ctx, api["id"])
    client.delete_method(restApiId=api["id"], resourceId=ids["/order/{orderId}"], httpMethod="GET")
    client.put_method(
        restApiId=api["id"],
        resourceId=ids["/order/{orderId}"],
        httpMethod="GET",
        authorizationType="NONE",
        apiKeyRequired=False,
    )
    client.put_method(restApiId=api["id"], resourceId=ids["/order"], httpMethod="DELETE", authorizationType="NONE")
    live = rest_api.find(ctx, API, want)
    drift = rest_api.drift(live, want)
    assert drift[0].field == "integration_uri" and drift[0].live is None  # GET lost its integration
    assert drift[0].desired.startswith("arn:aws:apigateway:")
    assert [(c.field, c.live, c.desired) for c in drift[1:4]] == [
        ("routes.GET /order/{orderId}.api_key_required", False, True),
        ("routes.GET /order/{orderId}.validate", False, True),
        ("routes.GET /order/{orderId}.request_parameters", "{}", '{"method.request.path.orderId":true}'),
    ]
    assert drift[4].field == "routes.DELETE /order" and drift[4].desired is None  # not declared
    writes: list[tuple[str, str]] = []  # (operation, httpMethod) as the caller asked for it
    ctx.clients.on(
        "provide-client-params.api-gateway",
        lambda params, model, **_: writes.append((model.name, params.get("httpMethod"))),
    )
    calls.clear()
    fixed = rest_api.update(ctx, API, live, want)
    assert sorted(calls.mutating) == ["DeleteMethod", "DeleteMethod", "PutIntegration", "PutMethod"]
    # The GET route is put back in order; the undeclared DELETE is removed beside it, in parallel.
    assert [w for w in writes if w[1] == "GET" and is_mutating(w[0])] == [
        ("DeleteMethod", "GET"),
        ("PutMethod", "GET"),
        ("PutIntegration", "GET"),
    ]
    assert ("DeleteMethod", "DELETE") in writes
    assert rest_api.drift(fixed, want) == []


def test_integration_and_settings_drift_fixed_in_place(ctx, calls, api):
    client, want = ctx.clients("apigateway"), api_desired(ctx)
    ids = resource_ids(ctx, api["id"])
    client.put_integration(
        restApiId=api["id"],
        resourceId=ids["/order"],
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=URI.replace("intake", "other"),
    )
    validator = client.get_request_validators(restApiId=api["id"])["items"][0]
    client.update_request_validator(
        restApiId=api["id"],
        requestValidatorId=validator["id"],
        patchOperations=[{"op": "replace", "path": "/validateRequestParameters", "value": "false"}],
    )
    client.update_rest_api(
        restApiId=api["id"], patchOperations=[{"op": "replace", "path": "/description", "value": "x"}]
    )
    live = rest_api.find(ctx, API, want)
    assert [d.field for d in rest_api.drift(live, want)] == [
        "description",
        "integration_uri",
        "validator.validate_parameters",
    ]
    calls.clear()
    fixed = rest_api.update(ctx, API, live, want)
    assert calls.mutating == ["UpdateRestApi", "UpdateRequestValidator", "PutIntegration"]
    assert rest_api.drift(fixed, want) == []


def test_delete(ctx, api):
    assert rest_api.delete(ctx, API, api) is True
    assert rest_api.find(ctx, API, api_desired(ctx)) is None
    assert rest_api.delete(ctx, API, api) is False
    assert rest_api.delete(ctx, API, None) is False


def test_delete_by_name(ctx, api):
    assert rest_api.delete(ctx, API, None) is True
    assert rest_api.find(ctx, API, api_desired(ctx)) is None


# -- stage ------------------------------------------------------------------------------------

SETTINGS = {"throttling_rate_limit": 50.0, "throttling_burst_limit": 100, "metrics_enabled": False}


def stage_desired(ctx, api, revision="rev-1", **overrides) -> dict:
    return {
        "rest_api_id": api["id"],
        "revision": revision,
        "description": "orderpoc test v1",
        "tags": dict(ctx.tags),
        "method_settings": SETTINGS,
        **overrides,
    }


def test_stage_find_nothing(ctx, api):
    assert stage.find(ctx, "v1", stage_desired(ctx, api)) is None
    assert stage.find(ctx, "v1", stage_desired(ctx, api, rest_api_id="nope")) is None


def test_stage_create_find_rerun_is_free(ctx, calls, api):
    want = stage_desired(ctx, api)
    created = stage.create(ctx, "v1", want)
    assert created.outputs == {
        "stage": "v1",
        "rest_api_id": api["id"],
        "deployment_id": created.outputs["deployment_id"],
        "invoke_url": f"https://{api['id']}.execute-api.us-east-1.amazonaws.com/v1",
    }
    assert created.config["revision"] == "rev-1"  # kept as the deployment's description
    calls.clear()
    live = stage.find(ctx, "v1", want)
    assert live.outputs == created.outputs
    assert stage.drift(live, want) == [] and calls.mutating == []


def test_stage_new_revision_deploys(ctx, calls, api):
    created = stage.create(ctx, "v1", stage_desired(ctx, api))
    want = stage_desired(ctx, api, revision="rev-2")
    live = stage.find(ctx, "v1", want)
    assert stage.drift(live, want) == [Change("revision", "rev-1", "rev-2")]
    calls.clear()
    fixed = stage.update(ctx, "v1", live, want)
    assert calls.mutating == ["CreateDeployment", "UpdateStage", "DeleteDeployment"]
    assert fixed.outputs["deployment_id"] != created.outputs["deployment_id"]
    assert stage.drift(fixed, want) == []
    deployments = ctx.clients("apigateway").get_deployments(restApiId=api["id"])["items"]
    assert [d["id"] for d in deployments] == [fixed.outputs["deployment_id"]]  # the old one is gone


def test_stage_settings_drift_patched(ctx, calls, api):
    want = stage_desired(ctx, api)
    stage.create(ctx, "v1", want)
    ctx.clients("apigateway").update_stage(
        restApiId=api["id"],
        stageName="v1",
        patchOperations=[{"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "7"}],
    )
    live = stage.find(ctx, "v1", want)
    assert stage.drift(live, want) == [Change("method_settings.throttling_burst_limit", 7, 100)]
    calls.clear()
    assert stage.drift(stage.update(ctx, "v1", live, want), want) == []
    assert calls.mutating == ["UpdateStage"]


def test_stage_delete(ctx, api):
    created = stage.create(ctx, "v1", stage_desired(ctx, api))
    assert stage.delete(ctx, "v1", created.outputs) is True
    assert stage.find(ctx, "v1", stage_desired(ctx, api)) is None
    assert stage.delete(ctx, "v1", created.outputs) is False


def test_stage_delete_by_name_finds_our_api(ctx, api):
    stage.create(ctx, "v1", stage_desired(ctx, api))
    assert stage.delete(ctx, "v1", None) is True
    assert stage.delete(ctx, "v1", None) is False
    rest_api.delete(ctx, API, api)
    assert stage.delete(ctx, "v1", None) is False  # no API at all
