"""Helpers for the API Gateway resource tests (test_res_apigateway*.py).

Their fixtures (`api`) are in conftest.py.
"""

from __future__ import annotations

from typing import Any

API = "orderpoc-test-api"
FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orderpoc-test-intake"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN_ARN}/invocations"
SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Order",
    "type": "object",
    "required": ["customerId"],
    "properties": {"customerId": {"type": "string", "minLength": 1}},
}


def api_desired(ctx: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "description": "orderpoc order API (test)",
        "endpoint_type": "REGIONAL",
        "tags": dict(ctx.tags),
        "integration_uri": URI,
        "model": {"name": "Order", "content_type": "application/json", "schema": SCHEMA},
        "validator": {"name": "body-and-params", "validate_body": True, "validate_parameters": True},
        "routes": [
            {
                "path": "/order",
                "method": "POST",
                "api_key_required": True,
                "validate": True,
                "model": "Order",
                "request_parameters": {},
            },
            {
                "path": "/order/{orderId}",
                "method": "GET",
                "api_key_required": True,
                "validate": True,
                "model": None,
                "request_parameters": {"method.request.path.orderId": True},
            },
        ],
        **overrides,
    }


def resource_ids(ctx: Any, api_id: str) -> dict[str, str]:
    items = ctx.clients("apigateway").get_resources(restApiId=api_id)["items"]
    return {r["path"]: r["id"] for r in items}
