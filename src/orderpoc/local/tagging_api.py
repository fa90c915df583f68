"""moto's tagging API (GetResources) without the ~45 services orderpoc never runs.

moto's `resourcegroupstaggingapi.models` imports the models of every service it can list (EC2 with
its AMI catalogue, RDS, SageMaker, Glue, ...) at module level, and its first GetResources builds a
backend, and parses the botocore model, of each. In the embedded AWS that was ~1.5 s of imports
plus ~3 s of CPU on the first `up` (its plan lists the stack's tagged resources) and about half the
server's memory, for services no request here ever reached.

`import_light()` imports it once at server start with those services' modules stood in for by
empty ones: their backends are a null object that holds nothing, so GetResources walks past them.
The services the emulator serves to orderpoc (below) stay real and are listed as moto lists them.
The stand-ins are taken out of `sys.modules` straight after, so a later request to one of those
services imports the real module and works; only the tagging API does not list what it holds
(docs/local.md says so).
"""

from __future__ import annotations

import builtins
import importlib
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TAGGING_MODELS = "moto.resourcegroupstaggingapi.models"
# moto's packages for the services orderpoc deploys and its state store: listed by GetResources.
LISTED = frozenset({"sqs", "sns", "dynamodb", "awslambda", "logs", "s3"})
_SUPPORT = ("moto.core", "moto.utilities", "moto.moto_api", "moto.resourcegroupstaggingapi")


class _Nothing:
    """A backend that holds nothing: every lookup gives itself, it iterates empty and is falsy."""

    def __getattr__(self, name: str) -> _Nothing:
        return self

    def __getitem__(self, key: Any) -> _Nothing:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Nothing:
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __contains__(self, item: Any) -> bool:
        return False


NOTHING = _Nothing()


def _stand_in(name: str) -> types.ModuleType:
    module = types.ModuleType(name, "orderpoc.local.tagging_api: a service the emulator does not list")

    def attribute(attr: str) -> Any:  # `from moto.x.models import XBackend, x_backends`
        return NOTHING if attr.endswith("_backends") else type(attr, (), {})

    module.__getattr__ = attribute  # type: ignore[method-assign]
    return module


def unlisted_modules(source: str) -> list[str]:
    """The moto modules the tagging models import that are neither listed nor support code."""
    imported = sorted(set(re.findall(r"^from (moto\.[\w.]+) import", source, re.MULTILINE)))
    return [m for m in imported if not m.startswith(_SUPPORT) and m.split(".")[1] not in LISTED]


def import_light() -> types.ModuleType:
    """Import moto's tagging API with stand-ins for the unlisted services (once per process)."""
    if TAGGING_MODELS in sys.modules:
        return sys.modules[TAGGING_MODELS]
    import moto  # the package only: finding the submodule's spec would import the tagging API

    for service in sorted(LISTED):  # real, with whatever they import themselves (s3 needs events...)
        importlib.import_module(f"moto.{service}.models")
    source = Path(moto.__file__).parent.joinpath(*TAGGING_MODELS.split(".")[1:]).with_suffix(".py")
    placed: list[str] = []
    for name in unlisted_modules(source.read_text(encoding="utf-8")):
        for module in (name.rsplit(".", 1)[0], name):  # `from moto.ec2 import` and `moto.ec2.models`
            if module != "moto" and module not in sys.modules:
                sys.modules[module] = _stand_in(module)
                placed.append(module)
    try:
        models = importlib.import_module(TAGGING_MODELS)
    finally:
        for module in placed:  # a real request to one of them imports the real thing
            del sys.modules[module]
    _list_stacks_only_once_imported(models.ResourceGroupsTaggingAPIBackend)
    return models


def _list_stacks_only_once_imported(backend_cls: Any) -> None:
    """GetResources imports moto.cloudformation in its body (which imports EC2 and two dozen other
    services): a CloudFormation never imported holds no stack, so until then that import gets a
    stand-in, for this one function only (its own builtins; sys.modules is left alone)."""
    generator = backend_cls._get_resources_generator

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "moto.cloudformation" and name not in sys.modules:
            return _stand_in(name)
        return builtins.__import__(name, *args, **kwargs)

    scope = {**generator.__globals__, "__builtins__": {**vars(builtins), "__import__": guarded_import}}
    backend_cls._get_resources_generator = types.FunctionType(
        generator.__code__, scope, generator.__name__, generator.__defaults__, generator.__closure__
    )
