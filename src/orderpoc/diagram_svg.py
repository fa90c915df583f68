"""The diagram as SVG: services as framed groups in columns (diagram_order), resources as boxes.

The data path is drawn on top in blue with numbered steps, failure branches dashed orange,
dependencies thin and grey underneath. A pure function of the model: same model, same bytes.
Kept apart from text and Mermaid (diagram_draw): it alone lays out geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from orderpoc import svg
from orderpoc.diagram import ENTRY, Edge, Model, Node
from orderpoc.diagram_order import diagram_title, figures_text, numbered_data_edges, ordered_nodes, service_columns

MARGIN, TITLE_H, LEGEND_H = 24, 48, 44
HEADER_H, PAD, GAP, GROUP_GAP, COLUMN_GAP = 24, 10, 24, 18, 150
KEY_SIZE, KIND_SIZE, NAME_SIZE, LABEL_SIZE = 13, 10.5, 11.5, 11


@dataclass
class _Box:
    node: Node
    column: int
    x: float
    y: float
    w: float
    h: float

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _live_line(node: Node) -> str:
    """State, then the figures, else why (what drifted, or the reason it is unknown), kept short."""
    detail = figures_text(node) or (node.detail if len(node.detail) <= 44 else node.detail[:43] + "…")
    return " · ".join(part for part in (node.state, detail) if part)


def _node_width(node: Node, live: bool) -> float:
    first = svg.text_width(node.key, KEY_SIZE) * 1.08 + 8 + svg.text_width(node.kind, KIND_SIZE)
    widths = [first, svg.text_width(node.name, NAME_SIZE, mono=True)]
    if live:
        widths.append(svg.text_width(_live_line(node), KIND_SIZE))
    return max(widths) + 2 * PAD + 6


def _layout(model: Model) -> tuple[dict[str, _Box], list[tuple[str, float, float, float, float]], float, float]:
    node_h = 62 if model.live else 46
    groups = model.services()
    boxes: dict[str, _Box] = {}
    frames: list[tuple[str, float, float, float, float]] = []
    entry_w = 96.0
    x = MARGIN + entry_w + COLUMN_GAP
    bottom = 0.0
    for column, services in enumerate(service_columns(model)):
        width = max(_node_width(n, model.live) for s in services for n in groups[s])
        y = MARGIN + TITLE_H
        for service in services:
            top = y
            y += HEADER_H + PAD
            for node in ordered_nodes(model, groups[service]):
                boxes[node.key] = _Box(node, column, x + PAD, y, width, node_h)
                y += node_h + GAP
            y += PAD - GAP
            frames.append((service, x, top, width + 2 * PAD, y - top))
            y += GROUP_GAP
        bottom = max(bottom, y)
        x += width + 2 * PAD + COLUMN_GAP
    return boxes, frames, x - COLUMN_GAP + MARGIN, bottom + LEGEND_H


def _anchors(a: _Box, b: _Box) -> tuple[float, float, float, float]:
    if a.column < b.column:
        return a.x + a.w, a.cy, b.x, b.cy
    return a.x, a.cy, b.x + b.w, b.cy


def _curve(a: _Box, b: _Box, boxes: dict[str, _Box]) -> tuple[str, float, float]:
    """The edge's path and its midpoint (for a label)."""
    if a.column != b.column:
        x1, y1, x2, y2 = _anchors(a, b)
        dx = (x2 - x1) / 2
        return (
            f"M{x1:.1f},{y1:.1f} C{x1 + dx:.1f},{y1:.1f} {x2 - dx:.1f},{y2:.1f} {x2:.1f},{y2:.1f}",
            (x1 + x2) / 2,
            (y1 + y2) / 2,
        )
    same = sorted((box for box in boxes.values() if box.column == a.column), key=lambda box: box.y)
    if abs(same.index(a) - same.index(b)) == 1 and abs(a.x - b.x) < 1:
        x = a.x + a.w * 0.3
        y1, y2 = (a.y + a.h, b.y) if a.y < b.y else (a.y, b.y + b.h)
        return f"M{x:.1f},{y1:.1f} L{x:.1f},{y2:.1f}", x, (y1 + y2) / 2
    # Not neighbours: an arc out of the column's left side, wider the further apart they are.
    bulge = 18 + 0.12 * abs(a.y - b.y)
    x1, y1, y2 = a.x, a.cy, b.cy
    return (
        f"M{x1:.1f},{y1:.1f} C{x1 - bulge:.1f},{y1:.1f} {x1 - bulge:.1f},{y2:.1f} {x1:.1f},{y2:.1f}",
        (x1 - bulge * 0.75),
        (y1 + y2) / 2,
    )


EDGE_STYLES: dict[str, dict[str, str]] = {
    "data": {"stroke": svg.DATA_COLOUR, "stroke_width": "3", "marker_end": "url(#arrow-data)"},
    "side": {
        "stroke": svg.SIDE_COLOUR,
        "stroke_width": "2",
        "stroke_dasharray": "6 4",
        "marker_end": "url(#arrow-side)",
    },
    "dependency": {
        "stroke": svg.DEPENDENCY_COLOUR,
        "stroke_width": "1",
        "stroke_opacity": "0.6",
        "marker_end": "url(#arrow-dep)",
    },
}


def _edge(edge: Edge, boxes: dict[str, _Box], **extra: str) -> tuple[str, float, float]:
    """The edge as a path styled by its role, and its midpoint (for a label)."""
    d, mx, my = _curve(boxes[edge.source], boxes[edge.target], boxes)
    path = svg.tag(
        "path",
        d=d,
        fill="none",
        class_=f"edge {edge.role}",
        data_source=edge.source,
        data_target=edge.target,
        **EDGE_STYLES[edge.role],
        **extra,
    )
    return path, mx, my


def _label(x: float, y: float, content: str, colour: str, number: int | None = None, centre: bool = False) -> str:
    """A label at an edge's midpoint; centred there between columns, so it stays inside the gap."""
    halo = {"stroke": "#ffffff", "stroke_width": "4", "paint_order": "stroke", "stroke_linejoin": "round"}
    parts = []
    if centre:
        x -= (svg.text_width(content, LABEL_SIZE) + (11 if number is not None else 0)) / 2
    if number is not None:
        parts.append(svg.tag("circle", cx=f"{x:.1f}", cy=f"{y:.1f}", r="8", fill=colour))
        parts.append(
            svg.text(
                x, y + 3.8, str(number), fill="#ffffff", font_size="10.5", font_weight="bold", text_anchor="middle"
            )
        )
        x += 11
    parts.append(svg.text(x, y + 4, content, fill=colour, font_size=str(LABEL_SIZE), **halo))
    return "".join(parts)


def _node(box: _Box, live: bool) -> str:
    node = box.node
    colour, fill = svg.STATE_COLOURS[node.state], svg.STATE_FILLS[node.state]
    x, y = box.x + PAD, box.y
    body = [
        svg.rect(box.x, y, box.w, box.h, rx="6", fill=fill, stroke=colour, stroke_width="2" if live else "1.2"),
        svg.tag(
            "text",
            svg.tag("tspan", escape(node.key), font_weight="bold", font_size=str(KEY_SIZE), fill="#263238")
            + svg.tag("tspan", escape(f"  {node.kind}"), font_size=str(KIND_SIZE), fill="#78909c"),
            x=f"{x:.1f}",
            y=f"{y + 18:.1f}",
        ),
        svg.text(x, y + 36, node.name, font_family=svg.MONO, font_size=str(NAME_SIZE), fill="#37474f", class_="name"),
    ]
    if live:
        body.append(
            svg.text(
                x, y + 53, _live_line(node), font_size=str(KIND_SIZE), fill=colour, font_weight="bold", class_="live"
            )
        )
    tooltip = svg.tag(
        "title", escape(f"{node.key} ({node.kind}): {node.name}" + (f" — {node.detail}" if node.detail else ""))
    )
    return svg.tag(
        "g",
        tooltip + "".join(body),
        class_="resource",
        data_key=node.key,
        data_kind=node.kind,
        data_service=node.service,
        data_state=node.state or None,
    )


def to_svg(model: Model) -> str:
    boxes, frames, width, height = _layout(model)
    entry_target = next((e.target for e in model.of_role("data") if e.source == ENTRY), None)
    if entry_target in boxes:
        target = boxes[entry_target]
        boxes[ENTRY] = _Box(Node(ENTRY, "", "", ""), -1, MARGIN, target.cy - 20, 96, 40)
    defs = svg.tag(
        "defs",
        svg.arrow_marker("arrow-data", svg.DATA_COLOUR, 12)
        + svg.arrow_marker("arrow-side", svg.SIDE_COLOUR, 10)
        + svg.arrow_marker("arrow-dep", svg.DEPENDENCY_COLOUR, 7),
    )
    parts = [defs, svg.tag("rect", width="100%", height="100%", fill="#ffffff")]
    parts.append(
        svg.text(MARGIN, MARGIN + 16, diagram_title(model), font_size="17", font_weight="bold", fill="#263238")
    )
    parts.append(
        svg.text(
            MARGIN,
            MARGIN + 34,
            "drawn by `orderpoc diagram` from the Specs `orderpoc up` walks",
            font_size="11.5",
            fill="#78909c",
        )
    )
    for service, x, y, w, h in frames:
        parts.append(
            svg.tag(
                "g",
                svg.rect(x, y, w, h, rx="10", fill="#f5f7f9", stroke="#cfd8dc")
                + svg.text(x + PAD, y + 17, service, font_size="12.5", font_weight="bold", fill="#546e7a"),
                class_="service",
                data_service=service,
            )
        )
    parts += [_edge(edge, boxes)[0] for edge in model.of_role("dependency")]
    parts += [_node(box, model.live) for key, box in boxes.items() if key != ENTRY]
    if ENTRY in boxes:
        box = boxes[ENTRY]
        parts.append(
            svg.tag(
                "g",
                svg.rect(box.x, box.y, box.w, box.h, rx="20", fill="#e3f2fd", stroke=svg.DATA_COLOUR)
                + svg.text(
                    box.x + box.w / 2,
                    box.y + 25,
                    "client",
                    font_size="13",
                    font_weight="bold",
                    fill=svg.DATA_COLOUR,
                    text_anchor="middle",
                ),
                class_="entry",
            )
        )
    labels = []
    for edge in model.of_role("side"):
        path, mx, my = _edge(edge, boxes)
        parts.append(path)
        across = boxes[edge.source].column != boxes[edge.target].column
        labels.append(_label(mx + (0 if across else 4), my, edge.label, svg.SIDE_COLOUR, centre=across))
    for number, edge in numbered_data_edges(model):
        path, mx, my = _edge(edge, boxes, data_step=str(number))
        parts.append(path)
        across = boxes[edge.source].column != boxes[edge.target].column
        labels.append(_label(mx, my, edge.label, svg.DATA_COLOUR, number, centre=across))
    parts += labels
    parts.append(_legend(model, height - LEGEND_H + 14))
    return svg.document(width, height, "".join(parts), diagram_title(model))


def _legend(model: Model, y: float) -> str:
    items = [
        (svg.DATA_COLOUR, "3", None, "an order's data path, step by step"),
        (svg.SIDE_COLOUR, "2", "6 4", "failure side branch"),
        (svg.DEPENDENCY_COLOUR, "1", None, "depends on (created after)"),
    ]
    parts, x = [], float(MARGIN)
    for colour, stroke_width, dash, label in items:
        parts.append(
            svg.tag(
                "path",
                d=f"M{x:.1f},{y:.1f} L{x + 34:.1f},{y:.1f}",
                stroke=colour,
                stroke_width=stroke_width,
                stroke_dasharray=dash,
            )
        )
        parts.append(svg.text(x + 42, y + 4, label, font_size="11.5", fill="#455a64"))
        x += 56 + svg.text_width(label, 11.5) + 24
    if model.live:
        for state in ("ok", "drifted", "missing", "unknown"):
            swatch = {"fill": svg.STATE_FILLS[state], "stroke": svg.STATE_COLOURS[state], "stroke_width": "2"}
            parts.append(svg.rect(x, y - 7, 14, 14, rx="3", **swatch))
            parts.append(svg.text(x + 20, y + 4, state, font_size="11.5", fill="#455a64"))
            x += 30 + svg.text_width(state, 11.5) + 18
    return svg.tag("g", "".join(parts), class_="legend")
