"""orderpoc.ui, imported on its first use: rich is a third of `orderpoc --help`'s start-up, and help
(or a usage error) renders nothing with it."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _LazyModule(ModuleType):
    def __getattr__(self, name: str) -> Any:
        # Read through every time (no caching here): a test's monkeypatch of orderpoc.ui is seen.
        return getattr(importlib.import_module(self.__name__), name)


if TYPE_CHECKING:
    from orderpoc import ui
else:
    ui = _LazyModule("orderpoc.ui")

__all__ = ["ui"]
