"""moto's DynamoDB condition and filter expressions parsed once per text (checked against moto 5.2.1).

Every conditional PutItem (the processor's `attribute_not_exists(orderId)`, one per order) and
every filtered Scan or Query has moto lex and parse its expression into an operator tree, then
evaluate that tree against the item: profiled under load, parsing was about a twentieth of the
server's CPU. The tree depends only on the expression and its attribute names and values, and
evaluating it changes nothing in it, so the tree is kept per (expression, names, values) and
evaluated again. A parse that fails raises as before and is not kept.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

_MAX_ENTRIES = 4096  # distinct expressions with their values: a handful in the pipeline
_trees: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def memoized(parse: Callable[..., Any]) -> Callable[..., Any]:
    """`get_filter_expression(expr, names, values)` with its trees kept."""

    def get_filter_expression(expr: Any, names: Any, values: Any) -> Any:
        try:
            key = (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
        except (TypeError, ValueError):  # something JSON cannot hold: parse it every time
            return parse(expr, names, values)
        tree = _trees.get(key)
        if tree is None:
            tree = parse(expr, names, values)
            with _lock:
                if len(_trees) >= _MAX_ENTRIES:
                    _trees.clear()
                _trees[key] = tree
        return tree

    get_filter_expression.__wrapped__ = parse  # type: ignore[attr-defined]
    return get_filter_expression


def apply() -> None:
    """Replace moto's parser wherever a moto module imported it; once per process."""
    import moto.dynamodb.models  # noqa: F401  # its modules import the parser: load them first
    from moto.dynamodb import comparisons

    original = comparisons.get_filter_expression
    if hasattr(original, "__wrapped__"):
        return
    replacement = memoized(original)
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.dynamodb") and getattr(module, "get_filter_expression", None) is original:
            module.get_filter_expression = replacement  # type: ignore[attr-defined]
