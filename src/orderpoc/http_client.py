"""A minimal JSON-over-HTTP client on the standard library (one less dependency for one POST)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def request(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> Response:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers), resp.read().decode(), time.monotonic() - started)
    except urllib.error.HTTPError as err:
        return Response(err.code, dict(err.headers), err.read().decode(errors="replace"), time.monotonic() - started)


def post_json(url: str, document: Any, headers: dict[str, str], timeout: float = 30.0) -> Response:
    return request(
        "POST",
        url,
        body=json.dumps(document).encode(),
        headers={"Content-Type": "application/json", **headers},
        timeout=timeout,
    )
