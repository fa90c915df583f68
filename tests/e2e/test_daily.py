"""Daily use on the embedded AWS, through the real CLI: outputs (and its curl), logs, list."""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from e2e_helpers import DUMP_ON_ABORT, wait_for, wait_or_dump

from orderpoc import http_client as http
from orderpoc.cli.output import validate

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_curl_from_outputs_posts_an_order(cli, deployed):
    outputs = cli.json("outputs", "--show-key")
    assert outputs["invoke_url"] == deployed["invoke_url"] == cli.json("status")["invoke_url"]
    result = subprocess.run(
        ["bash", "-c", outputs["curl"] + " -o /dev/null -w '%{http_code}'"], capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "202", result
    hidden = cli.run("outputs").stdout
    assert outputs["api_key"]["value"] not in hidden and outputs["urls"]["post_order"] in hidden


def _records(text: str) -> list[dict]:
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    for record in records:
        validate("logs", record)
    return records


def _post(cli, outputs: dict) -> str:
    order = {"customerId": "c-logs", "items": [{"sku": "L-1", "quantity": 1, "unitPrice": "1.00"}]}
    response = http.post_json(outputs["urls"]["post_order"], order, {"x-api-key": outputs["api_key"]["value"]})
    assert response.status == 202, response.body
    return str(response.json()["orderId"])


def test_logs_tell_each_orders_story_across_the_three_functions(cli, deployed):
    outputs = cli.json("outputs", "--show-key")
    first, second = _post(cli, outputs), _post(cli, outputs)

    def told(order_id: str) -> list[dict] | None:  # a line from each function, once it was notified
        records = _records(cli.run("logs", "--order", order_id, "--json").stdout)
        return records if {r["function"] for r in records} == {"intake", "processor", "notifier"} else None

    story = wait_for(lambda: told(second), timeout=60.0, interval=0.2)
    assert all(second in r["message"] for r in story)
    assert [r["timestamp"] for r in story] == sorted(r["timestamp"] for r in story)
    wait_for(lambda: told(first), timeout=60.0, interval=0.2)

    recent = _records(cli.run("logs", "--since", "5m", "--json").stdout)
    assert {r["function"] for r in recent} == {"intake", "processor", "notifier"}
    assert {first, second} <= {oid for oid in (first, second) if any(oid in r["message"] for r in recent)}
    text = cli.run("logs", "--since", "5m").stdout
    assert all(f" {fn} " in text for fn in ("intake", "processor", "notifier"))


def test_logs_follow_prints_a_new_orders_line_as_it_comes(cli, deployed):
    outputs = cli.json("outputs", "--show-key")
    follower = subprocess.Popen(
        [sys.executable, "-m", "orderpoc", "logs", "processor", "--follow", "--since", "1m"],
        cwd=cli.cwd,
        env={**cli.env, **DUMP_ON_ABORT},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True).start()
    seen: list[str] = []

    def printed(order_id: str, within: float = 30.0) -> str:
        deadline = time.monotonic() + within
        while not any(order_id in line for line in seen):
            left = deadline - time.monotonic()
            assert left > 0, f"no processor line for {order_id} within {within}s; got {seen}"
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=left))
        return next(line for line in seen if order_id in line)

    try:
        printed(_post(cli, outputs))  # the follower is running: it printed this one
        line = printed(_post(cli, outputs))  # ...and this one, posted while it follows
        assert " processor " in line
    finally:
        follower.send_signal(signal.SIGINT)  # Ctrl-C: a clean exit, no traceback
        try:
            wait_or_dump(follower, 30)
        finally:
            err = follower.stderr.read()  # type: ignore[union-attr]
            print(err, file=sys.stderr)  # shown with a failure: the stacks of a hung follower
    assert follower.returncode == 0 and "Traceback" not in err, err


def test_logs_with_a_bad_since_is_one_line_exit_2(cli):
    result = cli.run("logs", "--since", "yesterday", check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "invalid --since" in result.stderr


def test_local_logs_shows_the_embedded_aws_log(cli, deployed):
    assert "orderpoc.local" in cli.run("local", "logs", "--lines", "200").stdout


def test_list_knows_the_deployed_stack(cli, deployed):
    stacks = {entry["stack"]: entry for entry in cli.json("list")["stacks"]}
    assert stacks["e2e"]["source"] == "state" and stacks["e2e"]["tagged_resources"] > 0
    assert "e2e" in cli.run("list").stdout
