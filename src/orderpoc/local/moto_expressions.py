"""moto's DynamoDB condition and filter expressions parsed once per text (checked against moto 5.2.1).

Every conditional PutItem (the processor's `attribute_not_exists(orderId)`, one per order) and
every filtered Scan or Query has moto lex and parse its expression into an operator tree, then
evaluate that tree against the item: profiled under load, parsing was about a twentieth of the
server's CPU. The tree depends only on the expression and its attribute names and values, and
evaluating it changes nothing in it, so the tree is kept per (expression, names, values) and
evaluated again. A parse that fails raises as before and is not kept.

moto's response layer parses each expression once more, only to check which attribute names and
values it uses (`create_condition_expression_parser(...).parse()`, then `expr_attr_names_found`):
that parse, as long again, is answered from its own memo by a stand-in parser (`_ParsedOnce`).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

_MAX_ENTRIES = 4096  # distinct expressions with their values: a handful in the pipeline
_trees: dict[tuple[Any, ...], Any] = {}
_validated: dict[tuple[Any, ...], tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
_lock = threading.Lock()


def _key(expr: Any, names: Any, values: Any) -> tuple[Any, ...] | None:
    try:
        return (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
    except (TypeError, ValueError):  # something JSON cannot hold: parse it every time
        return None


def _keep(memo: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    with _lock:
        if len(memo) >= _MAX_ENTRIES:
            memo.clear()
        memo[key] = value


def memoized(parse: Callable[..., Any]) -> Callable[..., Any]:
    """`get_filter_expression(expr, names, values)` with its trees kept."""

    def get_filter_expression(expr: Any, names: Any, values: Any) -> Any:
        key = _key(expr, names, values)
        if key is None:
            return parse(expr, names, values)
        tree = _trees.get(key)
        if tree is None:
            tree = parse(expr, names, values)
            _keep(_trees, key, tree)
        return tree

    get_filter_expression.__wrapped__ = parse  # type: ignore[attr-defined]
    return get_filter_expression


class _ParsedOnce:
    """What the response layer uses of a ConditionExpressionParser: parse() (raising as moto's,
    when moto's raises: some callers catch it around that call) and the names and values found,
    a new list per parser (callers extend them)."""

    def __init__(self, create: Callable[..., Any], expr: Any, names: Any, values: Any) -> None:
        self._create, self._args = create, (expr, names, values)
        self.expr_attr_names_found: list[str] = []
        self.expr_attr_values_found: list[str] = []

    def parse(self) -> Any:
        key = _key(*self._args)
        found = _validated.get(key) if key is not None else None
        if found is None:
            parser = self._create(*self._args)
            tree = parser.parse()
            found = (tree, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found))
            if key is not None:
                _keep(_validated, key, found)
        tree, names_found, values_found = found
        self.expr_attr_names_found, self.expr_attr_values_found = list(names_found), list(values_found)
        return tree


def memoized_parser(create: Callable[..., Any]) -> Callable[..., Any]:
    """`create_condition_expression_parser(expr, names, values)` whose parse() is kept."""

    def create_condition_expression_parser(expr: Any, names: Any, values: Any) -> _ParsedOnce:
        return _ParsedOnce(create, expr, names, values)

    create_condition_expression_parser.__wrapped__ = create  # type: ignore[attr-defined]
    return create_condition_expression_parser


def apply() -> None:
    """Replace moto's parser wherever a moto module imported it; once per process."""
    import moto.dynamodb.models  # noqa: F401  # its modules import the parser: load them first
    from moto.dynamodb import comparisons, responses

    original = comparisons.get_filter_expression
    if hasattr(original, "__wrapped__"):
        return
    handlers: Any = responses  # moto does not re-export the name; it is replaced where it is used
    handlers.create_condition_expression_parser = memoized_parser(comparisons.create_condition_expression_parser)
    replacement = memoized(original)
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.dynamodb") and getattr(module, "get_filter_expression", None) is original:
            module.get_filter_expression = replacement  # type: ignore[attr-defined]
