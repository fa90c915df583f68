"""Lambda event filtering (FilterCriteria): which records an event source mapping delivers.

A record passes when any filter's pattern matches. A pattern mirrors the record's JSON: a dict
descends into the field, a list lists acceptable values for it. Values are exact matches (string,
number, null) or one of {"prefix"}, {"suffix"}, {"anything-but"}, {"numeric"}, {"exists"},
{"equals-ignore-case"}. For SQS, a JSON body is matched as parsed JSON, as Lambda does.
"""

from __future__ import annotations

import json
import logging
import operator
from typing import Any

log = logging.getLogger("orderpoc.local.filtering")

_MISSING = object()
_NUMERIC = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def compile_filters(criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Parsed patterns of a mapping's FilterCriteria; an invalid one is logged and matches nothing."""
    patterns = []
    for entry in (criteria or {}).get("Filters") or []:
        try:
            pattern = json.loads(entry.get("Pattern") or "{}")
            if not isinstance(pattern, dict):
                raise ValueError("a pattern must be a JSON object")
            patterns.append(pattern)
        except ValueError as exc:
            log.error("ignoring invalid filter pattern %r: %s", entry.get("Pattern"), exc)
            patterns.append({"\0never": ["\0"]})
    return patterns


def passes(record: dict[str, Any], patterns: list[dict[str, Any]]) -> bool:
    """No filters: everything passes; otherwise any matching pattern lets the record through."""
    if not patterns:
        return True
    return any(matches(record, pattern) for pattern in patterns)


def sqs_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as SQS filters see it: a JSON object body is matched field by field."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


def matches(value: Any, pattern: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        return False
    for key, expected in pattern.items():
        actual = value.get(key, _MISSING)
        if isinstance(expected, dict):
            if not matches(actual, expected):
                return False
        elif isinstance(expected, list):
            if not any(_rule(actual, rule) for rule in expected):
                return False
        else:
            return False  # Lambda rejects such patterns; treat them as matching nothing
    return True


def _rule(actual: Any, rule: Any) -> bool:
    if isinstance(rule, dict) and len(rule) == 1:
        ((kind, arg),) = rule.items()
        if kind == "exists":
            return (actual is not _MISSING) == bool(arg)
        if actual is _MISSING:
            return False  # every other operator needs the field to be there
        if isinstance(actual, list):
            return any(_rule(item, rule) for item in actual)
        return _operator(kind, arg, actual)
    if actual is _MISSING:
        return False
    if isinstance(actual, list):
        return any(_rule(item, rule) for item in actual)
    if isinstance(rule, (int, float)) and isinstance(actual, (int, float)):
        return float(rule) == float(actual)
    return type(rule) is type(actual) and rule == actual


def _operator(kind: str, arg: Any, actual: Any) -> bool:
    if kind == "prefix":
        return isinstance(actual, str) and actual.startswith(arg)
    if kind == "suffix":
        return isinstance(actual, str) and actual.endswith(arg)
    if kind == "equals-ignore-case":
        return isinstance(actual, str) and actual.lower() == str(arg).lower()
    if kind == "anything-but":
        if isinstance(arg, dict):
            return not _rule(actual, arg)
        excluded = arg if isinstance(arg, list) else [arg]
        return not any(_rule(actual, item) for item in excluded)
    if kind == "numeric":
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            return False
        pairs = zip(arg[::2], arg[1::2], strict=False)
        return all(_NUMERIC[op](actual, bound) for op, bound in pairs)
    log.warning("unsupported filter operator %r: treated as no match", kind)
    return False
