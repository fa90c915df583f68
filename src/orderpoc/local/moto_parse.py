"""The pipeline's hot JSON calls parsed by json.loads alone where moto's walk would change nothing
(checked against moto 5.2.1).

moto 5 hands every JSON-protocol request (DynamoDB, SQS) to a parser that walks the body through
the operation's botocore input shape, member by member: under load about a tenth of the server's
CPU, a DynamoDB item attribute by attribute. For a JSON body the walk returns what json.loads did,
except that it decodes blobs and timestamps, makes float/double members floats, maps members
renamed on the wire back to their names, and drops null and unknown members. So for the calls
listed below the walk is skipped when the operation has no renamed member and the body's text
holds no null and none of the wire names of its blob, timestamp and float members: json.loads is
then the answer. (An unknown member is kept instead of dropped; no SDK sends one, and these calls'
handlers read their members by name.) A body with a \\u escape gets the walk: an escaped name
would not be seen. Anything else, or any doubt, gets moto's walk.

Query-protocol requests (SNS: the notifier's PublishBatch, ~100 form fields for 10 entries) keep
moto's walk, but it reads the fields from a plain dict instead of werkzeug's CombinedMultiDict,
and asks "does any field start with this prefix?" by bisection in the sorted names instead of a
scan of them all for every structure it visits (that question was half of a PublishBatch's parse).
"""

from __future__ import annotations

import bisect
import functools
import json
from typing import Any

# (service, operation): the calls the pipeline and its load test make once or more per order.
HOT_CALLS = frozenset(
    {
        ("dynamodb", "PutItem"),
        ("dynamodb", "GetItem"),
        ("dynamodb", "BatchGetItem"),
        ("dynamodb", "Query"),
        ("sqs", "SendMessage"),
        ("sqs", "SendMessageBatch"),
        ("sqs", "ReceiveMessage"),
        ("sqs", "DeleteMessage"),
        ("sqs", "DeleteMessageBatch"),
    }
)
_CONVERTED = frozenset({"blob", "timestamp", "float", "double"})
_applied = False
moto_query_methods: tuple[Any, Any] | None = None  # moto's QueryParser._do_parse, _gonna_recurse


def sensitive_names(input_shape: Any) -> frozenset[str] | None:
    """Wire names of the members whose values moto's walk converts (a blob, a list of timestamps,
    ...; a structure's own members are named for themselves); None if any member is renamed
    (then the walk is always needed)."""
    names: set[str] = set()
    seen: set[str] = set()

    def converted(shape: Any) -> bool:  # is a value of this shape itself changed by the walk?
        if shape.type_name == "list":
            return converted(shape.member)
        if shape.type_name == "map":
            return converted(shape.key) or converted(shape.value)
        return shape.type_name in _CONVERTED

    def visit(shape: Any) -> None:
        if shape.type_name == "list":
            visit(shape.member)
        elif shape.type_name == "map":
            visit(shape.value)
        elif shape.type_name == "structure" and shape.name not in seen:  # AttributeValue recurses
            seen.add(shape.name)
            for member, member_shape in shape.members.items():
                wire = member_shape.serialization.get("name", member)
                if wire != member:
                    raise _Renamed()
                if converted(member_shape):
                    names.add(wire)
                visit(member_shape)

    try:
        visit(input_shape)
    except _Renamed:
        return None
    return frozenset(names)


class _Renamed(Exception):
    pass


@functools.cache
def _sensitive(service: str, operation: str) -> frozenset[str] | None:
    from moto.core.utils import get_service_model

    shape = get_service_model(service).operation_model(operation).input_shape
    return frozenset() if shape is None else sensitive_names(shape)


def plain_json(service: str, operation: str, body: Any) -> dict[str, Any] | None:
    """What moto's walk would return for this body, by json.loads alone; None: ask the walk."""
    if (service, operation) not in HOT_CALLS or not isinstance(body, str) or "null" in body:
        return None
    if "\\u" in body:  # an escaped name ("\u0042" is "B") would slip past the check below
        return None
    sensitive = _sensitive(service, operation)
    if sensitive is None or any(f'"{name}"' in body for name in sensitive):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _query_parse(do_parse: Any) -> Any:
    """QueryParser._do_parse over a plain dict of the fields (first value per name, as .get gives)."""

    @functools.wraps(do_parse)
    def _do_parse(self: Any, request_dict: dict[str, Any], shape: Any) -> Any:
        values = request_dict["values"]
        fields = {name: values.get(name) for name in values.keys()}  # noqa: SIM118  # a MultiDict
        self._sorted_fields = sorted(fields)
        return do_parse(self, {**request_dict, "values": fields}, shape)

    return _do_parse


def _gonna_recurse(self: Any, query_params: Any, prefix: str) -> bool:
    """moto's "no field starts with prefix" (then the walk stops there), by bisection."""
    if prefix == "":
        return False
    names = getattr(self, "_sorted_fields", None)
    if names is None:  # a parse that did not come through _do_parse
        names = sorted(query_params)
    at = bisect.bisect_left(names, prefix)
    return not (at < len(names) and names[at].startswith(prefix))


def apply() -> None:
    global _applied, moto_query_methods
    if _applied:
        return
    from moto.core.parse import QueryParser
    from moto.core.responses import BaseResponse

    query_cls: Any = QueryParser
    moto_query_methods = (query_cls._do_parse, query_cls._gonna_recurse)
    query_cls._do_parse = _query_parse(query_cls._do_parse)
    query_cls._gonna_recurse = _gonna_recurse

    response_cls: Any = BaseResponse
    walk = response_cls.parse_parameters

    @functools.wraps(walk)
    def parse_parameters(self: Any, request: Any) -> None:
        content_type = self.headers.get("Content-Type") or ""
        if content_type.startswith("application/x-amz-json"):
            parsed = plain_json(self.boto3_service_name, self._get_action(), self.body)
            if parsed is not None:
                self.params = parsed
                return
        walk(self, request)

    response_cls.parse_parameters = parse_parameters
    _applied = True
