"""The local AWS's perimeter on its own: which requests pass, which are refused, what goes out."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

from orderpoc.local.perimeter import Perimeter

PORT = 4612
INVOKE = "/restapis/abc123/v1/_user_request_/order"


def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Stands in for moto: allows every origin, as its flask-cors does."""
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "*")],
    )
    return [b"inner"]


@pytest.fixture
def client() -> Client:
    return Client(Perimeter(inner, PORT))


def call(client: Client, method: str = "GET", path: str = "/", host: str = f"127.0.0.1:{PORT}", **headers: str):
    # PATH_INFO as the server passes it on ("//moto-api" would be read as a URL's host otherwise)
    return client.open("/", method=method, headers={"Host": host, **headers}, environ_overrides={"PATH_INFO": path})


def cors_headers(response) -> list[str]:
    return [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"LOCALHOST:{PORT}", f"[::1]:{PORT}"])
def test_this_machines_tools_pass_without_cors_headers(client, host):
    response = call(client, host=host, **{"User-Agent": "Boto3/1.40", "Authorization": "AWS4-HMAC-SHA256 ..."})
    assert response.status_code == 200 and response.data == b"inner"
    assert cors_headers(response) == []


@pytest.mark.parametrize(
    "host",
    [
        f"evil.example:{PORT}",  # DNS rebinding: the page's own name
        "127.0.0.1",  # another port's
        "127.0.0.1:80",
        f"127.0.0.1.evil.example:{PORT}",
        f"localhost.:{PORT}",
        "",
    ],
)
def test_a_host_that_is_not_this_server_is_refused(client, host):
    response = call(client, host=host)
    assert response.status_code == 403
    assert "is not 127.0.0.1, localhost or [::1] with port 4612" in response.json["message"]


def test_a_cors_preflight_gets_no_allowance(client):
    response = call(
        client,
        "OPTIONS",
        "/",
        Origin="http://evil.example",
        **{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-amz-target"},
    )
    assert response.status_code == 403 and response.data != b"inner"
    assert cors_headers(response) == []


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_a_web_pages_simple_request_is_refused(client, headers):
    """A form POST or an <img> GET needs no preflight: refused by what browsers add to it."""
    response = call(client, "POST", "/", **headers)
    assert response.status_code == 403 and "web page" in response.json["message"]


def test_a_url_typed_into_the_browser_passes(client):
    assert call(client, "GET", "/_orderpoc/health", **{"Sec-Fetch-Site": "none"}).status_code == 200


@pytest.mark.parametrize("path", ["/moto-api/reset", "/moto-api/", "//moto-api/reset", "/moto-api/data.json"])
def test_motos_admin_api_is_closed(client, path):
    response = call(client, "POST", path)
    assert response.status_code == 403 and "admin API is closed" in response.json["message"]


def test_the_invoke_urls_keep_the_apis_own_behaviour(client):
    """API clients (and the API's own CORS setup) are the user's business, as on AWS; Host still counts."""
    preflight = call(client, "OPTIONS", INVOKE, Origin="http://app.example")
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert call(client, "POST", INVOKE, **{"x-api-key": "k"}).data == b"inner"
    assert call(client, "POST", INVOKE, host=f"evil.example:{PORT}").status_code == 403
