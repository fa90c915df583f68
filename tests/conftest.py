"""Settings every test needs before any boto3 client exists."""

import gc
import os
from typing import Any

import pytest

# botocore >= 1.44 sends DynamoDB Streams calls to account-based hosts
# ({account}.streams-ddb.{region}.amazonaws.com) that moto's in-process mock (5.2.x) does not
# route yet. Real AWS and the embedded AWS (explicit endpoint URL) are unaffected.
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
# orderpoc never uses EC2, but moto's tagging API builds an EC2 backend per test, and by default
# that parses thousands of AMIs (about a quarter of a second each time).
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
# Test state files, emulator state dirs and projects go to memory where Linux offers it: orderpoc
# fsyncs its state file and folder on every resource it records (crash safety), ~3 ms a write on
# this disk, hundreds of writes a test module. The code and its fsyncs are the same on tmpfs.
# (pytest's own temp root: numbered per run, the last three kept, as under /tmp.)
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", "/dev/shm")
# The tests start a few hundred Python processes (the CLI, emulators). Where the machine turns off
# byte-code caching (PYTHONDONTWRITEBYTECODE, as CI images do), each one compiled orderpoc's ~60
# modules again: a third of a second of CPU per `orderpoc up`. Their caches go to a folder of
# their own instead, outside the checkout (the xdist workers, started after this, use it too).
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    os.environ.setdefault(
        "PYTHONPYCACHEPREFIX",
        os.path.join(os.environ.get("PYTEST_DEBUG_TEMPROOT", "/tmp"), f"orderpoc-pycache-{os.getuid()}"),
    )


# Python's full collections were a sixth of the suite's CPU: each walks every object the process
# holds (moto, botocore's models, hypothesis, hundreds of test modules), about half a second a time
# in a worker, forty times a run. Young collections still free the short-lived cycles; the full
# ones run about once a run, enough for what outlives its test (moto's backends are reset per test).
gc.set_threshold(50_000, 20, 100)


# Under pytest-xdist (`-n auto` in pyproject.toml) each test goes to whichever worker is free,
# except the tests of a module that share a fixture which takes seconds to build and outlives a
# test (test_local_*: the module's embedded AWS; tests/e2e: the session's emulator and deployed
# stack). Those run on one worker, in file order: it builds the fixture once, and the order the
# tests were written for (the e2e stack's restart and down come last) holds. (xdist's own
# loadgroup cannot be used: it renames test ids, which pytest 9 no longer lets it do.)
def _shares_fixtures(module: str) -> bool:
    return module.startswith("tests/e2e/") or module.startswith("tests/unit/test_local_")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "load":
        return None  # another --dist asked for on the command line
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if _shares_fixtures(module) else nodeid

    return SharedFixtureScheduling(config, log)
