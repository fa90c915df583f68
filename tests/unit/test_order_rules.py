"""API Gateway's model of an order (schema.py, as the local front enforces it) and the intake
handler's rules (orderschema.py) accept and reject the same bodies.

Bodies are generated around every limit (lengths, counts, decimals, ranges, unknown fields, wrong
types). Strings are drawn from characters both sides can judge: not format, private-use,
unassigned or lone-surrogate code points, which only the handler refuses (see orderschema).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orderpoc.lambda_src import orderschema
from orderpoc.local.apigw_proxy import body_errors
from orderpoc.schema import ORDER_MODEL

MODEL = json.dumps(ORDER_MODEL)
ONLY_THE_HANDLER_JUDGES = ("Cs", "Cf", "Co", "Cn")

# -- values around the limits ------------------------------------------------------------------

SPECIAL_CHARS = list(" \t\n\r\x00\x0b\x1f\x7f\x85\x9f\xa0\u2028\u3000é中-_.")
CHARS = st.one_of(
    st.sampled_from([*"aZ09", *SPECIAL_CHARS]),
    st.characters(blacklist_categories=ONLY_THE_HANDLER_JUDGES),
)
SKU_CHARS = st.one_of(st.sampled_from([*"aZ09-_"] * 4 + [".", " ", "\n", "é"]))


def text(chars: st.SearchStrategy[str], *sizes: int) -> st.SearchStrategy[str]:
    return st.sampled_from(sizes).flatmap(lambda n: st.text(chars, min_size=n, max_size=n))


WRONG_TYPES = st.sampled_from([None, True, 0, 1.5, [], {}, "1"])
limit = orderschema.MAX_UNIT_PRICE
DECIMALS = st.integers(0, 3).flatmap(lambda places: st.decimals(-2, limit + 2, places=places))
AMOUNTS = st.one_of(
    st.sampled_from([0, 1, int(limit) - 1, int(limit), int(limit) + 1, -1]),
    DECIMALS,
    DECIMALS,
    st.sampled_from([Decimal(v) for v in ("-0.0", "0.010", "19.990", "1E+6", "1E+2", "1E-999999999", "1E+400")]),
)
AMOUNT_STRINGS = st.one_of(
    AMOUNTS.map(str),
    st.sampled_from(["01", "1.", ".5", "1e2", " 1", "1 ", "1.001", "-1", "+1", "1000000.0", "1000000.00"]),
    st.sampled_from(["1000000.01", "1000000.000", "999999.99", "9999999", "", "NaN", "1\n", "١"]),
)
QUANTITIES = st.one_of(
    st.sampled_from([-1, 0, 1, 2, orderschema.MAX_QUANTITY, orderschema.MAX_QUANTITY + 1]),
    st.integers(),
    st.sampled_from([Decimal("1.0"), Decimal("1E+2"), "1"]),
)
VALID_ITEM = {"sku": "A-1", "quantity": 1, "unitPrice": "1.00"}
VALID_ORDER = {"customerId": "cust-1", "items": [VALID_ITEM], "currency": "EUR", "note": "at the door"}
MAX = orderschema.MAX_ITEMS
ITEM_FIELDS = {
    "sku": text(SKU_CHARS, 0, 1, 2, 63, 64, 65) | WRONG_TYPES,
    "quantity": QUANTITIES | WRONG_TYPES,
    "unitPrice": AMOUNTS | AMOUNT_STRINGS | WRONG_TYPES,
}
ORDER_FIELDS = {
    "customerId": text(CHARS, 0, 1, 2, 63, 64, 65) | text(st.just(" "), 1, 3) | WRONG_TYPES,
    "currency": st.sampled_from(["USD", "EUR", "usd", "US", "USDX", "USD\n", "\nUSD", "ÜSD"]) | WRONG_TYPES,
    "note": text(CHARS, 0, 1, 499, 500, 501) | WRONG_TYPES,
}


def changed(draw: st.DrawFn, valid: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """A valid object with one or two fields changed: a generated value, gone, or an unknown one."""
    changed = dict(valid)
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(sorted(fields)))
        how = draw(st.sampled_from(["value", "value", "value", "remove", "unknown"]))
        if how == "value":
            changed[name] = draw(fields[name])
        elif how == "remove":
            changed.pop(name, None)
        else:
            changed["colour"] = "red"
    return changed


@st.composite
def items(draw: st.DrawFn) -> list[Any]:
    """A few entries, or a list around the count limit, with one entry changed or not an object."""
    count = draw(st.sampled_from([0, 1, 2, MAX - 1, MAX, MAX + 1]))
    entries: list[Any] = [VALID_ITEM] * count
    if count:
        entries[draw(st.integers(0, count - 1))] = (
            draw(st.builds(dict) | WRONG_TYPES)
            if draw(st.booleans()) and count < 3
            else changed(draw, VALID_ITEM, ITEM_FIELDS)
        )
    return entries


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """A valid order with one or two things changed (fields, items, unknown keys), its only item
    changed, or no object at all."""
    what = draw(st.sampled_from(["order", "order", "item", "item", "not an object"]))
    if what == "not an object":
        return draw(WRONG_TYPES)
    if what == "item":
        return {**VALID_ORDER, "items": [changed(draw, VALID_ITEM, ITEM_FIELDS)]}
    return changed(draw, VALID_ORDER, {**ORDER_FIELDS, "items": items() | WRONG_TYPES})


def dumps(value: Any) -> str:
    """JSON text with decimals written as the numbers they are (json.dumps cannot)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def handler_accepts(text: str) -> bool:
    _, errors = orderschema.validate_request(orderschema.parse_json(text))
    return not errors


# -- the properties --------------------------------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bodies())
def test_the_model_and_the_handler_accept_the_same_bodies(body: Any) -> None:
    text = dumps(body)
    gateway = body_errors(MODEL, text.encode())
    handler = handler_accepts(text)
    event("accepted" if handler else "rejected")
    assert (gateway == []) == handler, f"gateway says {gateway or 'ok'}, handler says {'ok' if handler else 'no'}"


def test_the_generated_bodies_reach_both_answers_at_every_limit() -> None:
    """The limits themselves: one step inside is accepted by both, one step outside by neither."""
    good: dict[str, Any] = {"customerId": "c" * 64, "items": [VALID_ITEM] * MAX, "note": "n" * 500, "currency": None}
    edges = [
        {**good, "customerId": "c" * 65},
        {**good, "items": [VALID_ITEM] * (MAX + 1)},
        {**good, "note": "n" * 501},
        {**good, "items": [{**VALID_ITEM, "unitPrice": Decimal("1000000.01")}]},
        {**good, "items": [{**VALID_ITEM, "unitPrice": "1000000.01"}]},
        {**good, "items": [{**VALID_ITEM, "unitPrice": Decimal("19.999")}]},
        {**good, "items": [{**VALID_ITEM, "quantity": orderschema.MAX_QUANTITY + 1}]},
        {**good, "items": [{**VALID_ITEM, "sku": "s" * 65}]},
        {**good, "extra": 1},
        {**good, "items": [{**VALID_ITEM, "unitPrice": Decimal("1E-999999999")}]},
        {**good, "items": [{**VALID_ITEM, "unitPrice": Decimal("1E+400")}]},
        {**good, "items": [{**VALID_ITEM, "sku": "A\n"}]},
        {**good, "currency": "USD\n"},
        {**good, "customerId": "   "},
        {**good, "note": "\x00"},
    ]
    assert body_errors(MODEL, dumps(good).encode()) == [] and handler_accepts(dumps(good))
    for price in (Decimal("19.99"), Decimal("1E+2"), Decimal("1000000.00"), "1000000.00", "0.5"):
        inside = {
            **good,
            "note": None,
            "items": [{**VALID_ITEM, "unitPrice": price, "quantity": orderschema.MAX_QUANTITY}],
        }
        assert body_errors(MODEL, dumps(inside).encode()) == [] and handler_accepts(dumps(inside)), price
    for body in edges:
        assert body_errors(MODEL, dumps(body).encode()) != [] and not handler_accepts(dumps(body)), body


def test_not_printable_names_every_control_and_separator_character() -> None:
    """Among the code points both sides judge, the model's class is exactly what isprintable() refuses."""
    not_printable = re.compile(f"[{orderschema.NOT_PRINTABLE}]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in ONLY_THE_HANDLER_JUDGES:
            continue
        assert char.isprintable() != bool(not_printable.match(char)), f"U+{code:04X}"
