"""moto's response serializer with its per-member key lookup memoized (checked against moto 5.2.1).

moto 5 renders SQS, SNS, DynamoDB, ... responses with `ResponseSerializer`, which walks the
operation's output shape and, for every member of every structure, map entry and list item,
builds an `AttributePickerContext` and asks six alias providers which attribute names the value
may be stored under (`DBInstanceIdentifier`, `db_instance_identifier`, `Identifier`, ...). The
answer depends only on the picker, the shape (and its parent), the member's name and the value's
class, never on the value itself: profiled under load, working it out again was about half of
the serializer's time, itself a sixth of the server's. Here it is worked out once per
combination by moto's own `get_possible_keys`; the picking, the transformers and the output are
moto's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_MAX_ENTRIES = 20_000  # (shape, member, class) combinations: a few hundred in practice
_keys: dict[tuple[Any, ...], tuple[str, ...]] = {}
_lock = threading.Lock()
_applied = False


def possible_keys(picker: Any, context: Any) -> tuple[str, ...]:
    """The attribute names moto's picker would try for this member, in its order, memoized."""
    obj, shape = context.obj, context.shape
    cache_key = (
        type(picker),
        tuple(picker.alias_providers),
        type(obj),
        getattr(obj, "Meta", None),  # ExplicitAlias reads the value's Meta (a class attribute)
        shape,
        getattr(shape, "parent", None),  # ShapePrefixAlias and ShapeNameAlias read the parent
        context.key,
    )
    keys = _keys.get(cache_key)
    if keys is None:
        keys = tuple(picker.get_possible_keys(context))
        with _lock:
            if len(_keys) >= _MAX_ENTRIES:
                _keys.clear()
            _keys[cache_key] = keys
    return keys


def fast_get_value(original: Callable[..., Any]) -> Callable[..., Any]:
    """`ResponseSerializer.get_value` with the memo, for moto's own pickers; `original` otherwise."""
    from moto.core import serialize
    from moto.core.constants import MISSING
    from moto.core.utils import get_value

    memoizable = (serialize.AttributePicker, serialize.XFormedAttributePicker)

    def get_value_memoized(self: Any, value: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        if type(picker) not in memoizable:  # a picker with its own __call__: moto's path
            return original(self, value, key, shape)
        context = serialize.AttributePickerContext(
            obj=value,
            key=key,
            shape=shape,
            operation_model=self.operation_model,
            service_model=self.operation_model.service_model,
        )
        for possible_key in possible_keys(picker, context):
            found = get_value(value, possible_key, MISSING)
            if found is not MISSING:
                break
        else:
            found = None
        if picker.response_transformers:  # as AttributePicker.__call__; the path only when needed
            key_path = f"{'.'.join(self.path)}.{key}"
            for transform_path, transform in picker.response_transformers.items():
                if key_path.endswith(transform_path):
                    return transform(found)
        return found

    get_value_memoized.__wrapped__ = original  # type: ignore[attr-defined]
    return get_value_memoized


def apply() -> None:
    """Route moto's `ResponseSerializer.get_value` through the memo, once per process."""
    global _applied
    if _applied:
        return
    from moto.core.serialize import ResponseSerializer

    serializer_cls: Any = ResponseSerializer
    serializer_cls.get_value = fast_get_value(ResponseSerializer.get_value)
    _applied = True
