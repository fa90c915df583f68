"""A project is a folder: orderpoc.toml plus lambda_src/ (the three handlers, their shared modules,
requirements). It is found like pyproject.toml: in the working directory or a parent, or named with
--project DIR (env ORDERPOC_PROJECT). Without one, orderpoc deploys its built-in pipeline: the same
files, shipped inside the package.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderpoc import stack_config
from orderpoc.errors import UserError
from orderpoc.stack_config import StackConfig

CONFIG_FILE = "orderpoc.toml"
SOURCE_DIR = "lambda_src"
# Makes the built-in lambda_src/ the package orderpoc.lambda_src; no function's code, never zipped or copied.
PACKAGE_MARKER = "__init__.py"


def builtin_source() -> Path:
    """The built-in pipeline's function code: the checkout's top-level lambda_src/, shipped in the
    wheel and in an editable install as the package orderpoc.lambda_src (setup.py maps the two)."""
    spec = importlib.util.find_spec("orderpoc.lambda_src")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("orderpoc is installed without its lambda_src: reinstall it")
    return Path(list(spec.submodule_search_locations)[0])


@dataclass(frozen=True)
class Project:
    root: Path | None  # None: no project, the built-in pipeline
    table: dict[str, Any] = field(default_factory=dict)  # the checked file, stages included

    @property
    def source(self) -> Path:
        return self.root / SOURCE_DIR if self.root else builtin_source()

    @property
    def config_path(self) -> Path | None:
        return self.root / CONFIG_FILE if self.root else None

    def stages(self) -> list[str]:
        return sorted(self.table.get("stages") or {})

    def resolved(self, stage: str | None) -> dict[str, Any]:
        """The file's top level with the stage's table merged over it (each stage its own stack name
        unless it sets one)."""
        top = {k: v for k, v in self.table.items() if k != "stages"}
        if stage is None:
            return top
        stages = self.table.get("stages") or {}
        if stage not in stages:
            where = self.config_path or "no project"
            known = ", ".join(sorted(stages)) or "none are defined"
            raise UserError(f"{where}: unknown stage {stage!r}: use one of {known}")
        merged = stack_config.merge(top, stages[stage])
        if "stack" not in stages[stage]:
            merged["stack"] = f"{top.get('stack', 'orderpoc')}-{stage}"
        return merged

    def stack_config(self, stage: str | None) -> StackConfig:
        return stack_config.from_table(self.resolved(stage), str(self.config_path or "the defaults"))


def find(explicit: Path | None = None, start: Path | None = None) -> Project:
    """The project named explicitly, else the nearest folder upward holding orderpoc.toml, else none."""
    named = explicit or (Path(os.environ["ORDERPOC_PROJECT"]) if os.environ.get("ORDERPOC_PROJECT") else None)
    if named is not None:
        if not (named / CONFIG_FILE).is_file():
            raise UserError(f"{named} is not an orderpoc project (no {CONFIG_FILE}): create one with `orderpoc init`")
        return load(named)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return load(folder)
    return Project(None)


def load(root: Path) -> Project:
    path = root / CONFIG_FILE
    try:
        table = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    stack_config.check_table(table, str(path))
    project = Project(root.resolve(), table)
    if not project.source.is_dir():
        raise UserError(f"{project.source} is missing: a project keeps its functions' code there")
    for stage in [None, *project.stages()]:
        project.stack_config(stage)  # cross-setting rules, for every stage, before anything runs
    return project


# -- orderpoc init ------------------------------------------------------------------------------
TEMPLATE = """\
# orderpoc project settings. Every key is optional: a missing one keeps orderpoc's default.
# Command-line options override this file; [stages.NAME] tables override its top level
# (pick one with --stage NAME; each stage is its own stack unless it sets `stack`).

stack = "{stack}"
# target = "local"          # or "aws"
# region = "us-east-1"
# architecture = "x86_64"   # or "arm64": the functions' CPU, and the wheels requirements install

[functions.intake]
timeout = 10                # seconds, 1-900
memory = 256                # MB, 128-10240
# environment = {{ LOG_LEVEL = "INFO" }}
# reserved_concurrency = 10

[functions.processor]
timeout = 30
memory = 256

[functions.notifier]
timeout = 30
memory = 256

[queue]
batch_size = 10             # orders per processor invocation
batching_window = 0         # seconds to gather a batch: more is cheaper, slower when quiet
# visibility_timeout = 180  # at least 6x functions.processor.timeout

[stream]
batch_size = 100
batching_window = 0
retries = 3                 # then the record goes to the notifier's failure queue

[api]
throttle_rate = 100.0       # requests per second
throttle_burst = 200
# quota_limit = 100000
# quota_period = "DAY"

[logs]
retention_days = 14

[notifications]
emails = []

# [stages.prod]
# target = "aws"
# region = "eu-west-1"
# [stages.prod.functions.processor]
# memory = 512
"""

README = """\
# {stack}: an orderpoc project

`orderpoc up` deploys this folder's pipeline: API Gateway -> intake -> SQS -> processor ->
DynamoDB (Streams) -> notifier -> SNS. Run it from here or any folder below.

- `lambda_src/` holds the three handlers (`intake.py`, `processor.py`, `notifier.py`) and the
  modules they share. Each function's zip holds its handler, the shared modules and its
  dependencies; editing one handler updates only that function.
- `lambda_src/requirements.txt` lists packages every function gets; `lambda_src/requirements-NAME.txt`
  (NAME: intake, processor or notifier) adds packages for one function. They are installed as
  binary wheels for the Lambda runtime (Python 3.12, manylinux, the configured architecture).
- `orderpoc.toml` holds what you tune: memory, timeouts, environment, batching, throttling,
  retention, notification emails, and stages (`--stage NAME`).

```bash
orderpoc plan            # what up would change
orderpoc up --watch      # deploy, then redeploy what you change as you save
orderpoc send-test-order
orderpoc down
```
"""


def init(target: Path, *, stack: str | None = None, force: bool = False) -> list[Path]:
    """Write a new project into target; refuse to overwrite a file unless force. Returns what it wrote."""
    stack = stack or _stack_name(target)
    source = builtin_source()
    plan: dict[Path, bytes] = {
        target / CONFIG_FILE: TEMPLATE.format(stack=stack).encode(),
        target / "README.md": README.format(stack=stack).encode(),
        target / SOURCE_DIR / "requirements.txt": b"# one requirement per line, e.g. inflection==0.5.1\n",
    }
    for path in sorted(source.glob("*.py")):
        if path.name == PACKAGE_MARKER:
            continue
        plan[target / SOURCE_DIR / path.name] = path.read_bytes()
    existing = [path for path in plan if path.exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise UserError(f"refusing to overwrite {shown}: use another folder, or --force to overwrite")
    for path, content in plan.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.rmtree(path)
        path.write_bytes(content)
    return list(plan)


def _stack_name(folder: Path) -> str:
    """A valid stack name from the folder's name, else the default."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")[:32].strip("-")
    return name if len(name) >= 2 and name[0].isalpha() else "orderpoc"
