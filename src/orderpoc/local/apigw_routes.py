"""API Gateway request routing and API keys, read from the API as provisioned in moto.

Routing: among the resources whose path template matches and that have the method (or ANY), the
most specific wins: a literal segment beats `{param}`, which beats a greedy `{proxy+}`.
API keys: the x-api-key value must be an enabled key attached to a usage plan that includes this
API and stage; the plan's throttle (rateLimit/burstLimit) is enforced with a token bucket per key.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Route:
    resource: Any  # moto apigateway Resource
    method: Any  # moto apigateway Method
    resource_path: str
    path_parameters: dict[str, str] = field(default_factory=dict)


def _match(template: list[str], segments: list[str]) -> tuple[dict[str, str], tuple[int, ...]] | None:
    """Path parameters and a specificity score, or None when the template does not match."""
    params: dict[str, str] = {}
    score: list[int] = []
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            return params, (*score, 0)
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[index]
            score.append(1)
        elif part == segments[index]:
            score.append(2)
        else:
            return None
    if len(segments) != len(template):
        return None
    return params, tuple(score)


def resolve(api: Any, http_method: str, path: str) -> Route | None:
    segments = [s for s in path.split("/") if s]
    best: tuple[tuple[int, ...], Route] | None = None
    for resource in list(api.resources.values()):
        methods = resource.resource_methods
        method = methods.get(http_method) or methods.get("ANY")
        if method is None:
            continue
        resource_path = resource.get_path()
        matched = _match([s for s in resource_path.split("/") if s], segments)
        if matched is None:
            continue
        params, score = matched
        if best is None or score > best[0]:
            best = (score, Route(resource, method, resource_path, params))
    return best[1] if best else None


def find_api_key(backend: Any, api_id: str, stage: str, value: str | None) -> tuple[Any, Any] | None:
    """(ApiKey, UsagePlan) when the value is a valid key for this API stage, else None."""
    if not value:
        return None
    for key in list(backend.keys.values()):
        if key.value != value or not key.enabled:
            continue
        for plan in list(backend.usage_plans.values()):
            if key.id not in backend.usage_plan_keys.get(plan.id, {}):
                continue
            if any(s.get("apiId") == api_id and s.get("stage") == stage for s in plan.api_stages):
                return key, plan
    return None


class Throttle:
    """Token buckets per (usage plan, key): rateLimit tokens per second, up to burstLimit."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # -> (tokens, last time)
        self._lock = threading.Lock()

    def allow(self, plan: Any, key: Any) -> bool:
        rate = float((plan.throttle or {}).get("rateLimit") or 0)
        burst = float((plan.throttle or {}).get("burstLimit") or 0)
        if rate <= 0 and burst <= 0:
            return True
        capacity = max(burst, 1.0)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get((plan.id, key.id), (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[(plan.id, key.id)] = (tokens - 1.0 if allowed else tokens, now)
        return allowed
