"""The order's shape: validation and normalization shared by intake (client body) and processor
(queue message). Pure standard library, no boto3, so it is cheap to import and easy to test.

Amounts are Decimal end to end: strings on the wire ("19.99"), Number in DynamoDB, never float.

The limits and patterns below are stated once: `order_model()` turns them into the JSON Schema
API Gateway validates request bodies with (orderpoc/schema.py), so both accept and reject the
same bodies (tests/unit/test_order_rules.py proves it). What JSON Schema cannot say is checked
here only: isprintable() beyond the characters in NOT_PRINTABLE, lone surrogates, duplicate keys.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_ITEMS = 50
MAX_QUANTITY = 1000
MAX_UNIT_PRICE = Decimal("1000000")
MAX_CUSTOMER_ID = 64
MAX_NOTE = 500
MAX_IDEMPOTENCY_KEY = 128
MAX_ERRORS = 50  # a 64 KiB body could otherwise produce thousands of "unknown field" errors
CENT = Decimal("0.01")
DEFAULT_CURRENCY = "USD"

REQUEST_FIELDS = frozenset({"customerId", "items", "currency", "note"})
ITEM_FIELDS = frozenset({"sku", "quantity", "unitPrice"})
MESSAGE_FIELDS = REQUEST_FIELDS | {"orderId", "total", "createdAt", "idempotencyKey"}

# Fixed namespace: orderIds derived from an Idempotency-Key must stay stable across deploys.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1a52-3c1e-4c8e-9a53-0c5d1f0e7b21")

SKU_PATTERN = r"[A-Za-z0-9_-]{1,64}"
CURRENCY_PATTERN = r"[A-Z]{3}"
# Strings must be plain decimals: no sign, exponent, whitespace, leading zeros or NaN/Infinity;
# at most two decimals and at most MAX_UNIT_PRICE (the pattern says so too: JSON Schema cannot
# compare a string with a number).
AMOUNT_PATTERN = r"(0|[1-9][0-9]{0,5})(\.[0-9]{1,2})?|1000000(\.00?)?"
# Unicode's control characters and separators other than the space: what isprintable() refuses
# that a JSON Schema pattern can name (format, private-use and unassigned code points it cannot).
NOT_PRINTABLE = r"\x00-\x1f\x7f-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Control characters a note may not hold (tab, newline and carriage return it may).
NOTE_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"

_SKU_RE = re.compile(SKU_PATTERN)
_CURRENCY_RE = re.compile(CURRENCY_PATTERN)
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
_KEY_RE = re.compile(r"[\x20-\x7e]+")  # printable ASCII: header values are ASCII in practice
_NOTE_CONTROL_RE = re.compile(f"[{NOTE_CONTROL}]")


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class _Errors(list[FieldError]):
    def add(self, field: str, reason: str) -> None:
        self.append(FieldError(field, reason))


def _field_name(key: object) -> str:
    """Client-chosen keys go back into error messages: keep them short and printable."""
    text = key if isinstance(key, str) else repr(key)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 64 else text[:61] + "..."


def _is_unicode(text: str) -> bool:
    """False for lone surrogates (JSON "\\ud800"), which SQS and DynamoDB cannot store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_json(text: str) -> Any:
    """json.loads with exact decimals, no NaN/Infinity and no duplicate keys.

    Raises ValueError (or RecursionError for absurd nesting) for anything it will not accept.
    """

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not allowed")

    def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise ValueError(f"duplicate key {_field_name(key)!r}")
            obj[key] = value
        return obj

    return json.loads(text, parse_float=Decimal, parse_constant=reject_constant, object_pairs_hook=unique_object)


def parse_amount(value: object) -> Decimal | str:
    """A non-negative amount with at most two decimals, as Decimal quantized to cents.

    Returns the reason as a str when the value is not acceptable.
    """
    if isinstance(value, bool):
        return "must be a number or a numeric string"
    if isinstance(value, str):
        if not _AMOUNT_RE.fullmatch(value):
            return "must be a plain decimal such as 19.99 (at most two decimals, no sign/exponent)"
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):  # JSON numbers with a fraction or exponent
        amount = value
    else:
        return "must be a number or a numeric string"
    # Range first: comparisons are safe for any exponent, quantize is not.
    if not amount.is_finite():
        return "must be finite"
    if amount < 0:
        return "must not be negative"
    if amount > MAX_UNIT_PRICE:
        return f"must be at most {MAX_UNIT_PRICE}"
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:
        return "is not a valid amount"
    if cents != amount:
        return "must have at most two decimals"
    return cents if cents else Decimal("0.00")  # "-0" -> "0.00"


def compute_total(items: list[dict[str, Any]]) -> Decimal:
    total = sum((Decimal(i["quantity"]) * Decimal(i["unitPrice"]) for i in items), Decimal(0))
    return total.quantize(CENT)


def _validate_items(value: object, errors: _Errors) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        errors.add("items", "must be an array" if value is not None else "is required")
        return []
    if not 1 <= len(value) <= MAX_ITEMS:
        errors.add("items", f"must have 1-{MAX_ITEMS} entries")
    items: list[dict[str, Any]] = []
    for n, item in enumerate(value[:MAX_ITEMS]):
        where = f"items[{n}]"
        if not isinstance(item, dict):
            errors.add(where, "must be an object")
            continue
        for key in sorted(item.keys() - ITEM_FIELDS):
            errors.add(f"{where}.{_field_name(key)}", "unknown field")
        sku, quantity = item.get("sku"), item.get("quantity")
        if not isinstance(sku, str) or not _SKU_RE.fullmatch(sku):
            errors.add(f"{where}.sku", "must be 1-64 letters, digits, '-' or '_'")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            errors.add(f"{where}.quantity", "must be an integer")
        elif not 1 <= quantity <= MAX_QUANTITY:
            errors.add(f"{where}.quantity", f"must be 1-{MAX_QUANTITY}")
        price = parse_amount(item["unitPrice"]) if "unitPrice" in item else "is required"
        if isinstance(price, str):
            errors.add(f"{where}.unitPrice", price)
        else:
            items.append({"sku": sku, "quantity": quantity, "unitPrice": str(price)})
    return items


def validate_request(data: object) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """A client's order body -> (normalized order without id/timestamps, []) or (None, errors)."""
    errors = _Errors()
    order = _validate_object(data, REQUEST_FIELDS, errors)
    return (order, []) if order is not None and not errors else (None, errors[:MAX_ERRORS])


def _validate_object(data: object, allowed: frozenset[str], errors: _Errors) -> dict[str, Any] | None:
    """The shared part of both entry points: an object, only known fields, the common rules."""
    if not isinstance(data, dict):
        errors.add("body", "must be a JSON object")
        return None
    for key in sorted(data.keys() - allowed):
        errors.add(_field_name(key), "unknown field")
    return _validate_common(data, errors)


def _validate_common(data: dict[str, Any], errors: _Errors) -> dict[str, Any]:
    customer = data.get("customerId")
    if not isinstance(customer, str):
        errors.add("customerId", "is required" if customer is None else "must be a string")
    elif not 1 <= len(customer) <= MAX_CUSTOMER_ID or not customer.strip():
        errors.add("customerId", f"must be 1-{MAX_CUSTOMER_ID} characters, not blank")
    elif not customer.isprintable() or not _is_unicode(customer):
        errors.add("customerId", "must contain printable characters only")

    items = _validate_items(data.get("items"), errors)

    currency = data.get("currency")
    if currency is None:  # absent or null: the default
        currency = DEFAULT_CURRENCY
    elif not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
        errors.add("currency", "must be three uppercase letters, e.g. USD")

    note = data.get("note")
    if note is not None:
        if not isinstance(note, str):
            errors.add("note", "must be a string")
        elif len(note) > MAX_NOTE:
            errors.add("note", f"must be at most {MAX_NOTE} characters")
        elif _NOTE_CONTROL_RE.search(note) or not _is_unicode(note):
            errors.add("note", "must not contain control characters or invalid Unicode")

    return {
        "customerId": customer,
        "items": items,
        "total": str(compute_total(items)) if not errors else None,
        "currency": currency,
        "note": note,
    }


def order_model() -> dict[str, Any]:
    """The request body's rules as a JSON Schema (draft 4, as API Gateway models use).

    Patterns are searched, not matched, in JSON Schema, and `$` also matches before a final
    newline (in Python and Java alike): `_whole` anchors them to the whole string instead.
    """
    printable = f"[^{NOT_PRINTABLE}]"
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "Order",
        "type": "object",
        "required": ["customerId", "items"],
        "additionalProperties": False,
        "properties": {
            "customerId": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_CUSTOMER_ID,
                # printable, and not only spaces
                "pattern": _whole(f"{printable}*[^ {NOT_PRINTABLE}]{printable}*"),
            },
            "currency": {"type": ["string", "null"], "pattern": _whole(CURRENCY_PATTERN)},  # null: the default
            "note": {"type": ["string", "null"], "maxLength": MAX_NOTE, "pattern": _whole(f"[^{NOTE_CONTROL}]*")},
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ITEMS,
                "items": {
                    "type": "object",
                    "required": ["sku", "quantity", "unitPrice"],
                    "additionalProperties": False,
                    "properties": {
                        "sku": {"type": "string", "pattern": _whole(SKU_PATTERN)},
                        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
                        "unitPrice": {
                            "anyOf": [
                                {
                                    "type": "number",
                                    "minimum": 0,
                                    "maximum": int(MAX_UNIT_PRICE),
                                    "multipleOf": float(CENT),
                                },
                                {"type": "string", "pattern": _whole(AMOUNT_PATTERN)},
                            ]
                        },
                    },
                },
            },
        },
    }


def _whole(pattern: str) -> str:
    """A JSON Schema pattern that matches only the whole string: "no character follows" is the
    end in every regex dialect (ECMA, Java, Python)."""
    return f"^(?:{pattern})(?![\\s\\S])"


def validate_message(data: object) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """A queue message written by intake -> (normalized order, []) or (None, errors).

    Same rules as the client body, plus the fields intake adds; the total is recomputed and must
    match, so a corrupted or hand-made message is treated as poison rather than stored.
    """
    errors = _Errors()
    order = _validate_object(data, MESSAGE_FIELDS, errors)
    if order is None or not isinstance(data, dict):
        return None, errors
    order_id = data.get("orderId")
    if not is_order_id(order_id):
        errors.add("orderId", "must be a lowercase UUID")
    created = data.get("createdAt")
    if not is_timestamp(created):
        errors.add("createdAt", "must be an ISO-8601 UTC timestamp ending in Z")
    key = data.get("idempotencyKey")
    if key is not None and validate_idempotency_key(key) is not None:
        errors.add("idempotencyKey", "is invalid")
    if not errors and data.get("total") != order["total"]:
        errors.add("total", f"must equal the sum of the items ({order['total']})")
    if errors:
        return None, errors[:MAX_ERRORS]
    order.update(orderId=order_id, createdAt=created)
    if key is not None:
        order["idempotencyKey"] = key
    return order, []


def validate_idempotency_key(key: object) -> str | None:
    """None when acceptable, else the reason."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        return f"must be 1-{MAX_IDEMPOTENCY_KEY} characters"
    if not _KEY_RE.fullmatch(key):
        return "must contain printable ASCII characters only"
    return None


def order_id_for(customer_id: str, idempotency_key: str | None) -> str:
    """Deterministic for a retried request (same customer, same key), random otherwise.

    Scoped by customer so two customers who happen to pick the same key never collide.
    """
    if idempotency_key is None:
        return str(uuid.uuid4())
    name = json.dumps([customer_id, idempotency_key])
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, name))


def is_order_id(value: object) -> bool:
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def is_timestamp(value: object) -> bool:
    if not isinstance(value, str) or not _TIMESTAMP_RE.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:  # e.g. month 13
        return False
    return True


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and a Z, e.g. 2024-05-01T12:00:00.123Z."""
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_order(item: dict[str, Any]) -> dict[str, Any]:
    """A stored order (deserialized DynamoDB item) -> API JSON: amounts as "0.00" strings,
    quantities as ints. DynamoDB drops trailing zeros (19.90 -> 19.9), so re-quantize."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "idempotencyKey":  # the client's token; not part of the order's public view
            continue
        if key == "items" and isinstance(value, list):
            out[key] = [
                {
                    "sku": i.get("sku"),
                    "quantity": int(i.get("quantity", 0)),
                    "unitPrice": money(i.get("unitPrice")),
                }
                for i in value
            ]
        elif key == "total":
            out[key] = money(value)
        elif isinstance(value, Decimal):
            out[key] = int(value) if value == value.to_integral_value() else str(value)
        else:
            out[key] = value
    return out


def money(value: object) -> str:
    return str(Decimal(str(value)).quantize(CENT))
