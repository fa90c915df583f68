"""orderpoc.ui and its ui_* modules, each imported on its first use: rich is a third of `orderpoc
--help`'s start-up, and help (or a usage error) renders nothing with it."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _LazyModule(ModuleType):
    def __getattr__(self, name: str) -> Any:
        # Read through every time (no caching here): a test's monkeypatch of orderpoc.ui is seen.
        return getattr(importlib.import_module(self.__name__), name)


if TYPE_CHECKING:
    from orderpoc import ui, ui_lines, ui_orders, ui_plan, ui_progress, ui_stacks
else:
    ui = _LazyModule("orderpoc.ui")
    ui_lines = _LazyModule("orderpoc.ui_lines")
    ui_orders = _LazyModule("orderpoc.ui_orders")
    ui_plan = _LazyModule("orderpoc.ui_plan")
    ui_progress = _LazyModule("orderpoc.ui_progress")
    ui_stacks = _LazyModule("orderpoc.ui_stacks")

__all__ = ["ui", "ui_lines", "ui_orders", "ui_plan", "ui_progress", "ui_stacks"]
