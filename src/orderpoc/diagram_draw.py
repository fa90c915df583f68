"""Draw a diagram.Model as text, Mermaid or SVG. Pure functions of the model: same model, same bytes.

`render` picks the format. Text and Mermaid are drawn here; the SVG, the one with a layout of
its own, in diagram_svg.py; the order all three follow (columns, flow, numbered steps) in
diagram_order.py.
"""

from __future__ import annotations

from orderpoc import svg
from orderpoc.diagram import ENTRY, Model
from orderpoc.diagram_order import diagram_title, figures_text, groups, numbered_data_edges
from orderpoc.diagram_svg import to_svg

FORMATS = ("svg", "mermaid", "text")


def render(model: Model, fmt: str) -> str:
    return {"svg": to_svg, "mermaid": to_mermaid, "text": to_text}[fmt](model)


# -- text ----------------------------------------------------------------------------------------
def to_text(model: Model) -> str:
    lines = [diagram_title(model), ""]
    for service, nodes in groups(model):
        lines.append(service)
        for node in nodes:
            live = f"  [{node.state}]" if model.live else ""
            figures = f"  {figures_text(node)}" if node.figures else ""
            detail = f"  ({node.detail})" if node.detail else ""
            lines.append(f"  {node.key:<15} {node.kind:<21} {node.name}{live}{figures}{detail}")
    lines += ["", "Data path of an order:"]
    for number, edge in numbered_data_edges(model):
        lines.append(f"  {number:>2}. {edge.source} -> {edge.target}  ({edge.label})")
    lines.append("Side branches:")
    lines += [f"      {e.source} -> {e.target}  ({e.label})" for e in model.of_role("side")]
    lines.append("Dependencies (resource -> what it needs first):")
    needs: dict[str, list[str]] = {}
    for edge in model.of_role("dependency"):
        needs.setdefault(edge.source, []).append(edge.target)
    lines += [f"      {key} -> {', '.join(targets)}" for key, targets in needs.items()]
    return "\n".join(lines) + "\n"


# -- mermaid -------------------------------------------------------------------------------------
def _mid(key: str) -> str:
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in key)


def _mtext(value: str) -> str:
    return value.replace('"', "#quot;").replace("{", "#123;").replace("}", "#125;")


def to_mermaid(model: Model) -> str:
    lines = ["flowchart LR", f"  %% {diagram_title(model)}", f'  {_mid(ENTRY)}(["client"])']
    for service, nodes in groups(model):
        lines.append(f'  subgraph {_mid(service)}["{_mtext(service)}"]')
        for node in nodes:
            extra = f"<br/>{node.state}" if model.live else ""
            extra += f"<br/>{_mtext(figures_text(node))}" if node.figures else ""
            lines.append(f'    {_mid(node.key)}["<b>{_mtext(node.key)}</b><br/>{_mtext(node.name)}{extra}"]')
        lines.append("  end")
    links: list[str] = []
    styles: list[str] = []
    for number, edge in numbered_data_edges(model):
        links.append(f'  {_mid(edge.source)} ==>|"{number}. {_mtext(edge.label)}"| {_mid(edge.target)}')
        styles.append(f"stroke:{svg.DATA_COLOUR},stroke-width:3px")
    for edge in model.of_role("side"):
        links.append(f'  {_mid(edge.source)} -.->|"{_mtext(edge.label)}"| {_mid(edge.target)}')
        styles.append(f"stroke:{svg.SIDE_COLOUR},stroke-width:2px")
    for edge in model.of_role("dependency"):
        links.append(f"  {_mid(edge.source)} --> {_mid(edge.target)}")
        styles.append(f"stroke:{svg.DEPENDENCY_COLOUR},stroke-width:1px")
    lines += links
    lines += [f"  linkStyle {index} {style}" for index, style in enumerate(styles)]
    if model.live:
        for state in sorted({n.state for n in model.nodes}):
            lines.append(f"  classDef {state} fill:{svg.STATE_FILLS[state]},stroke:{svg.STATE_COLOURS[state]}")
            members = ",".join(_mid(n.key) for n in model.nodes if n.state == state)
            lines.append(f"  class {members} {state}")
    return "\n".join(lines) + "\n"
