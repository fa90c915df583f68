"""The embedded AWS answers this machine's tools, not web pages: through the real server."""

from __future__ import annotations

import http.client

import pytest

pytestmark = pytest.mark.e2e


def _raw(cli, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A request as a browser (or an attacker's page) would send it: headers exactly as given."""
    connection = http.client.HTTPConnection("127.0.0.1", int(cli.env["ORDERPOC_LOCAL_PORT"]), timeout=30)
    try:
        connection.request(method, path, headers={"Host": cli.endpoint.removeprefix("http://"), **headers})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_web_pages_cannot_drive_the_local_aws_and_the_tools_still_can(own_cli):
    own_cli.run("up")
    port = own_cli.env["ORDERPOC_LOCAL_PORT"]

    status, headers, _ = _raw(
        own_cli,
        "OPTIONS",
        "/",
        {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 403 and not [h for h in headers if h.startswith("access-control-")]
    status, headers, _ = _raw(own_cli, "POST", "/", {"Origin": "http://evil.example", "Content-Length": "0"})
    assert status == 403 and not [h for h in headers if h.startswith("access-control-")]
    assert _raw(own_cli, "GET", "/_orderpoc/health", {"Host": f"evil.example:{port}"})[0] == 403
    for path in ("/moto-api/reset", "//moto-api/reset"):
        assert _raw(own_cli, "POST", path, {"Content-Length": "0"})[0] == 403

    # Nothing was wiped, and boto3, curl-like plain requests, the CLI and the pipeline still work.
    assert own_cli.json("status")["healthy"] is True
    assert own_cli.client("dynamodb").list_tables()["TableNames"] == ["solo-orders"]
    status, headers, body = _raw(own_cli, "GET", "/_orderpoc/health", {})
    assert status == 200 and b"orderpoc-local" in body
    assert not [h for h in headers if h.startswith("access-control-")]
    assert own_cli.json("send-test-order")["ok"] is True
