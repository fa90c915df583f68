"""What every drawing of the diagram agrees on: which service goes in which column, the
resources' order inside a service, the numbered data path and the title.

Columns, from left to right: the service the order enters by, the service that carries most of
the path (Lambda), the other services on the path, then the ones off it (IAM, logs). Inside a
group, resources on the path come in flow order, their side branches next, the rest in the Specs'
order. diagram_draw (text, Mermaid) and diagram_svg read these helpers.
"""

from __future__ import annotations

from orderpoc.diagram import Edge, Model, Node


def numbered_data_edges(model: Model) -> list[tuple[int, Edge]]:
    """The data edges in flow order, numbered from 1 (the entry's request)."""
    rank = {key: index for index, key in enumerate(model.path)}
    data = sorted(model.of_role("data"), key=lambda e: (rank.get(e.source, 999), rank.get(e.target, 999)))
    return list(enumerate(data, start=1))


def groups(model: Model) -> list[tuple[str, list[Node]]]:
    """Services in column order, each with its resources in drawing order (all formats agree)."""
    by_service = model.services()
    return [(s, ordered_nodes(model, by_service[s])) for column in service_columns(model) for s in column]


def figures_text(node: Node) -> str:
    return ", ".join(f"{k} {v}" for k, v in node.figures)


def diagram_title(model: Model) -> str:
    if not model.live:
        return f"orderpoc stack {model.stack!r}: {len(model.nodes)} resources as declared"
    summary = ", ".join(f"{n} {state}" for state, n in sorted(model.counts.items()))
    return f"orderpoc stack {model.stack!r}: {len(model.nodes)} resources, live ({summary})"


def service_columns(model: Model) -> list[list[str]]:
    """Which services go in which column (see the module's docstring)."""
    service_of = {n.key: n.service for n in model.nodes}
    on_path = [service_of[k] for k in model.path if k in service_of]
    entry = on_path[:1]
    rest = [s for s in on_path if s not in entry]
    hub = [max(dict.fromkeys(rest), key=rest.count)] if rest else []
    others = list(dict.fromkeys(s for s in rest if s not in hub))
    off = [s for s in model.services() if s not in entry + hub + others]
    return [column for column in (entry, hub, others, off) if column]


def ordered_nodes(model: Model, nodes: list[Node]) -> list[Node]:
    rank = {key: float(i) for i, key in enumerate(model.path)}
    for edge in model.of_role("side"):
        rank.setdefault(edge.target, rank.get(edge.source, 500.0) + 0.5)
    spec_order = {n.key: i for i, n in enumerate(model.nodes)}
    return sorted(nodes, key=lambda n: (rank.get(n.key, 1000.0), spec_order[n.key]))
