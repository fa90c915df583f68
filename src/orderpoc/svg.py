"""A few helpers for writing SVG by hand: escaping, elements, a rough text width, a palette.

Hand-written rather than a library: the pictures are boxes, paths and text, which take a dozen
lines here, and the hard part (where things go) no pure-Python SVG writer does anyway.
"""

from __future__ import annotations

from html import escape
from typing import Any

FONT = "Helvetica, Arial, sans-serif"
MONO = "Menlo, Consolas, 'DejaVu Sans Mono', monospace"
# Colours that read on white and in print; one per resource state and per edge role.
STATE_COLOURS = {"ok": "#2e7d32", "missing": "#c62828", "drifted": "#ef8f00", "unknown": "#7b1fa2", "": "#455a64"}
STATE_FILLS = {"ok": "#e8f5e9", "missing": "#ffebee", "drifted": "#fff3e0", "unknown": "#f3e5f5", "": "#ffffff"}
DATA_COLOUR = "#1565c0"
SIDE_COLOUR = "#e65100"
DEPENDENCY_COLOUR = "#90a4ae"


def attrs(**values: Any) -> str:
    """XML attributes; a trailing underscore is dropped (class_) and other underscores become dashes."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f'{name}="{escape(str(value), quote=True)}"')
    return " ".join(parts)


def tag(name: str, body: str = "", **values: Any) -> str:
    attributes = attrs(**values)
    opening = f"{name} {attributes}" if attributes else name
    return f"<{opening}>{body}</{name}>" if body else f"<{opening}/>"


def rect(x: float, y: float, width: float, height: float, **values: Any) -> str:
    return tag("rect", x=f"{x:.1f}", y=f"{y:.1f}", width=f"{width:.1f}", height=f"{height:.1f}", **values)


def text(x: float, y: float, content: str, **values: Any) -> str:
    return tag("text", escape(content), x=f"{x:.1f}", y=f"{y:.1f}", **values)


def text_width(content: str, size: float, mono: bool = False) -> float:
    """An estimate good enough to size boxes (no font metrics without a renderer)."""
    return len(content) * size * (0.62 if mono else 0.56)


def document(width: float, height: float, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{escape(FONT, quote=True)}" '
        f'role="img" aria-label="{escape(title, quote=True)}">'
        f"<title>{escape(title)}</title>{body}</svg>\n"
    )


def arrow_marker(ident: str, colour: str, size: float = 9) -> str:
    """An arrowhead of a fixed size in user units (not scaled by the line's width)."""
    path = tag("path", d="M0,0 L10,5 L0,10 z", fill=colour)
    return tag(
        "marker",
        path,
        id=ident,
        viewBox="0 0 10 10",
        refX="9",
        refY="5",
        markerUnits="userSpaceOnUse",
        markerWidth=f"{size:g}",
        markerHeight=f"{size:g}",
        orient="auto-start-reverse",
    )
