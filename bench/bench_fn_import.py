"""Cold import time of the Lambda handlers, against `python -c pass` and `import boto3`.

Each sample is a fresh interpreter, so nothing is cached in-process. The handlers are imported
from a temporary copy of lambda_src (as Lambda imports them from the zip root) with -B, so our own
modules are compiled on every run, as they are on a cold Lambda without .pyc files.
The peers run in the same rounds, interleaved, so machine noise hits all cases alike.

    python bench/bench_fn_import.py [--runs 11] [--detail intake]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAMBDA_SRC = Path(__file__).resolve().parents[1] / "lambda_src"
HANDLERS = ("intake", "processor", "notifier")

# The child prints how long the statement itself took, apart from interpreter start-up.
CHILD = "import sys, time; sys.path.insert(0, {src!r}); t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def cases() -> dict[str, str]:
    return {
        "python -c pass": "pass",
        "import boto3": "import boto3",
        **{f"import {h}": f"import {h}" for h in HANDLERS},
    }


def sample(src: Path, stmt: str) -> tuple[float, float]:
    """(wall seconds of the whole process, seconds spent in the statement)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-E", "-B", "-c", CHILD.format(src=str(src), stmt=stmt)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return time.perf_counter() - started, float(out.strip().splitlines()[-1])


def detail(src: Path, module: str, top: int = 12) -> None:
    """The modules that cost the most (self time) when importing `module`, via -X importtime."""
    err = subprocess.run(
        [
            sys.executable,
            "-E",
            "-B",
            "-X",
            "importtime",
            "-c",
            f"import sys; sys.path.insert(0, {str(src)!r}); import {module}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[12:].split("|"))
        rows.append((int(self_us), int(cumulative_us), name.strip()))
    print(f"\nimport {module}: top {top} modules by self time (one run, -X importtime)")
    print(f"{'self ms':>8} {'cumul ms':>9}  module")
    for self_us, cumulative_us, name in sorted(rows, reverse=True)[:top]:
        print(f"{self_us / 1000:8.1f} {cumulative_us / 1000:9.1f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="samples per case (median taken)")
    parser.add_argument("--detail", choices=HANDLERS, help="also show -X importtime's top modules")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="orderpoc-lambda-") as tmp:
        src = Path(tmp)
        for path in LAMBDA_SRC.glob("*.py"):  # sources only: no stale __pycache__ from tests
            shutil.copy2(path, src / path.name)
        todo = cases()
        for stmt in todo.values():  # warm-up round: OS file cache, not measured
            sample(src, stmt)
        wall: dict[str, list[float]] = {name: [] for name in todo}
        inner: dict[str, list[float]] = {name: [] for name in todo}
        for _ in range(args.runs):
            for name, stmt in todo.items():
                w, i = sample(src, stmt)
                wall[name].append(w)
                inner[name].append(i)
        if args.detail:
            detail(src, args.detail)

    med_wall = {n: statistics.median(v) for n, v in wall.items()}
    med_inner = {n: statistics.median(v) for n, v in inner.items()}
    base_wall, boto3_import = med_wall["python -c pass"], med_inner["import boto3"]
    print(f"\ncold import, median of {args.runs} fresh interpreters (Python {sys.version.split()[0]}, {sys.platform})")
    print(f"{'case':<18} {'process ms':>11} {'x pass':>7} {'import ms':>10} {'x boto3':>8}")
    for name in todo:
        ratio = "-" if name == "python -c pass" else f"{med_inner[name] / boto3_import:.2f}"
        print(
            f"{name:<18} {med_wall[name] * 1000:11.1f} {med_wall[name] / base_wall:7.2f} "
            f"{med_inner[name] * 1000:10.1f} {ratio:>8}"
        )
    print(
        "\nprocess ms: whole `python -c` run; import ms: the import statement alone;"
        "\nx boto3: import time relative to `import boto3` (1.00 = the handler adds nothing)."
    )


if __name__ == "__main__":
    main()
