"""The stack as a picture's model, read off the same Specs `up` walks, so it cannot drift from them.

Every Spec is a resource; every `depends_on` is a dependency edge. The order's data path is not a
hand-kept list: each Spec's builder is run on *symbolic* outputs (``d["queue"]["arn"]`` becomes
the token ``⟦queue.arn⟧``), and where a token lands in a config says what flows where:

- a REST API's integration URI names the function it proxies to (the entry: its POST routes);
- an event source mapping's source ARN and function name: source -> mapping -> function, and its
  on-failure destination is a side branch;
- a queue's redrive policy names its dead-letter queue (a side branch);
- a function's role grants write actions (sqs:SendMessage, dynamodb:PutItem, sns:Publish) on exact
  ARNs: function -> that resource;
- a subscription's topic ARN: topic -> subscription.

Config keys are matched case- and underscore-insensitively (``EventSourceArn`` = ``event_source_arn``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orderpoc.engine_types import Report, Spec

# Presentation only: which AWS service a resource kind belongs to (unknown kinds get their own group).
SERVICES = {
    "rest_api": "API Gateway",
    "api_stage": "API Gateway",
    "api_key": "API Gateway",
    "usage_plan": "API Gateway",
    "lambda_function": "Lambda",
    "lambda_permission": "Lambda",
    "event_source_mapping": "Lambda",
    "sqs_queue": "SQS",
    "dynamodb_table": "DynamoDB",
    "sns_topic": "SNS",
    "sns_subscription": "SNS",
    "iam_role": "IAM",
    "log_group": "CloudWatch Logs",
}
# IAM actions that move an order's data into a resource (reads are the mappings' job).
WRITE_ACTIONS = {
    "sqs:SendMessage",
    "sqs:SendMessageBatch",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:BatchWriteItem",
    "sns:Publish",
    "sns:PublishBatch",
}
ENTRY = "client"  # the pseudo-node the order comes from
_TOKEN = re.compile(r"⟦([^⟧]+)\.([A-Za-z0-9_]+)⟧")


@dataclass(frozen=True)
class Node:
    key: str
    kind: str
    name: str
    service: str
    state: str = ""  # live only: ok | missing | drifted | unknown
    figures: tuple[tuple[str, Any], ...] = ()
    detail: str = ""  # live only: what drifted, or why unknown


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    role: str  # "data" (the order's path) | "side" (failure branches) | "dependency"
    label: str = ""


@dataclass
class Model:
    stack: str
    nodes: list[Node]
    edges: list[Edge]
    path: list[str] = field(default_factory=list)  # data-path node keys in flow order, ENTRY first
    live: bool = False

    def node(self, key: str) -> Node:
        return next(n for n in self.nodes if n.key == key)

    def services(self) -> dict[str, list[Node]]:
        groups: dict[str, list[Node]] = {}
        for node in self.nodes:
            groups.setdefault(node.service, []).append(node)
        return groups

    def of_role(self, *roles: str) -> list[Edge]:
        return [e for e in self.edges if e.role in roles]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.state] = counts.get(node.state, 0) + 1
        return counts


class _Symbolic(dict[str, str]):
    """A dependency's outputs as tokens: any field asked for is ``⟦key.field⟧``."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def __missing__(self, field_name: str) -> str:
        return f"⟦{self.key}.{field_name}⟧"


def _drift_text(drift: Sequence[Any]) -> str:
    """Which fields drifted, in a line: items are Changes, {field, live, desired}, or text ("field: live -> desired")."""
    parts = []
    for item in drift:
        if isinstance(item, Mapping):
            parts.append(str(item.get("field", "?")))
        elif isinstance(getattr(item, "field", None), str):  # a Change (its repr is no picture's label)
            parts.append(item.field)
        else:
            parts.append(str(item).split(":", 1)[0])
    return ", ".join(parts)


def symbolic_configs(specs: Sequence[Spec]) -> dict[str, dict[str, Any]]:
    """Each Spec's desired config, built from tokens instead of real outputs (no AWS call)."""
    return {spec.key: spec.build({dep: _Symbolic(dep) for dep in spec.depends_on}) for spec in specs}


def _norm(key: str) -> str:
    return key.replace("_", "").lower()


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, str]]:
    """(normalised key path, referenced spec key, referenced output field) for every token."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not str(key).startswith("_"):
                yield from _walk(item, (*path, _norm(str(key))))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item, path)
    elif isinstance(value, str):
        for match in _TOKEN.finditer(value):
            yield path, match.group(1), match.group(2)


def _refs(config: Any, last: str) -> list[tuple[str, str]]:
    return [(key, out) for path, key, out in _walk(config) if path and path[-1] == last]


def _get(config: Mapping[str, Any], name: str, default: Any = None) -> Any:
    return next((v for k, v in config.items() if _norm(str(k)) == name), default)


def _find(value: Any, name: str) -> Any:
    """The first value under a key of that (normalised) name, at any depth; None if there is none."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _norm(str(key)) == name:
                return item
        for item in value.values():
            if (found := _find(item, name)) is not None:
                return found
    return None


def build_model(specs: Sequence[Spec], stack: str, reports: Sequence[Report] | None = None) -> Model:
    configs = symbolic_configs(specs)
    by_state = {r.key: r for r in reports or []}
    nodes = []
    for spec in specs:
        report = by_state.get(spec.key)
        nodes.append(
            Node(
                spec.key,
                spec.kind,
                spec.name,
                SERVICES.get(spec.kind, spec.kind.split("_")[0].upper()),
                state=report.state if report else ("unknown" if reports is not None else ""),
                figures=tuple(report.figures.items()) if report else (),
                detail=(_drift_text(report.drift) or report.error) if report else "",
            )
        )
    edges = _data_edges(specs, configs)
    known = {spec.key for spec in specs}
    edges = [e for e in edges if e.target in known and (e.source in known or e.source == ENTRY)]
    for spec in specs:
        edges.extend(Edge(spec.key, dep, "dependency") for dep in spec.depends_on)
    return Model(stack, nodes, edges, _path(edges), live=reports is not None)


def _data_edges(specs: Sequence[Spec], configs: Mapping[str, dict[str, Any]]) -> list[Edge]:
    kinds = {spec.key: spec.kind for spec in specs}
    data: list[Edge] = []
    side: list[Edge] = []
    for spec in specs:
        config = configs[spec.key]
        if spec.kind == "rest_api":
            routes = [r for r in _get(config, "routes", []) if str(_get(r, "method", "")).upper() == "POST"]
            label = ", ".join(f"POST {_get(r, 'path')}" for r in routes) or "request"
            targets = [key for key, _ in _refs(config, "integrationuri")]
            if targets:
                data.append(Edge(ENTRY, spec.key, "data", label))
            data.extend(Edge(spec.key, key, "data", "AWS_PROXY") for key in targets)
        elif spec.kind == "event_source_mapping":
            batch = _find(config, "batchsize")
            for key, out in _refs(config, "eventsourcearn"):
                label = "stream" if out.startswith("stream") else "poll"
                data.append(Edge(key, spec.key, "data", f"{label}, batch {batch}" if batch else label))
            data.extend(Edge(spec.key, key, "data", "invoke") for key, _ in _refs(config, "functionname"))
            side.extend(Edge(spec.key, key, "side", "on failure") for key, _ in _refs(config, "destination"))
        elif spec.kind == "sqs_queue":
            receives = _find(config, "maxreceivecount")
            label = f"after {receives} receives" if receives else "redrive"
            side.extend(Edge(spec.key, key, "side", label) for key, _ in _refs(config, "deadlettertargetarn"))
        elif spec.kind == "sns_subscription":
            data.extend(Edge(key, spec.key, "data", "deliver") for key, _ in _refs(config, "topicarn"))
    for spec in (s for s in specs if s.kind == "lambda_function"):
        # A mapping's failure destination is written with the function's role, but it is the
        # mapping's side branch, drawn once from there.
        mappings = {e.source for e in data if e.target == spec.key}
        branches = {e.target for e in side if e.source in mappings}
        for role_key, _ in _refs(configs[spec.key], "rolearn"):
            for statement in _statements(configs.get(role_key, {})):
                actions = statement.get("Action", [])
                writes = sorted(WRITE_ACTIONS & set([actions] if isinstance(actions, str) else actions))
                if not writes:
                    continue
                for _, key, _ in _walk(statement.get("Resource", [])):
                    if key in kinds and key not in branches:
                        data.append(Edge(spec.key, key, "data", ", ".join(writes)))
    return _unique(data) + _unique(side)


def _statements(role_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    policy = _get(role_config, "policy", {}) or {}
    statements = policy.get("Statement", []) if isinstance(policy, Mapping) else []
    return [s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow"]


def _unique(edges: list[Edge]) -> list[Edge]:
    return list(dict.fromkeys(edges))


def _path(edges: list[Edge]) -> list[str]:
    """The data path's nodes in flow order: a walk from the entry along data edges."""
    out: dict[str, list[str]] = {}
    for edge in edges:
        if edge.role == "data":
            out.setdefault(edge.source, []).append(edge.target)
    order, frontier = [ENTRY], [ENTRY]
    while frontier:
        nxt = []
        for key in frontier:
            for target in out.get(key, []):
                if target not in order:
                    order.append(target)
                    nxt.append(target)
        frontier = nxt
    return order
