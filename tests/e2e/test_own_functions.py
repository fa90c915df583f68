"""Your own functions, through the real CLI on the embedded AWS: `init`, a dependency from
requirements.txt, stages from orderpoc.toml, and `up --watch` redeploying a saved edit."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import DUMP_ON_ABORT, wait_for, wait_or_dump

from orderpoc import http_client

pytestmark = pytest.mark.e2e

STACK = "e2e-proj"
PROCESSOR_EDIT = """

# --- project edit: every stored order also gets customerSlug, computed by a third-party package ---
import inflection  # noqa: E402  (from requirements.txt, installed into the zip)

_original_to_item = to_item


def to_item(order, received_at):  # type: ignore[no-redef]
    item = _original_to_item(order, received_at)
    item["customerSlug"] = {"S": inflection.underscore(order["customerId"])}
    return item
"""
NOTIFIER_EDIT = """

# --- project edit, made while `up --watch` runs ---
_original_subject = subject


def subject(summary):  # type: ignore[no-redef]
    return "v2 " + _original_subject(summary)
"""


@pytest.fixture(scope="module")
def proj(cli, tmp_path_factory) -> Iterator[Any]:
    """A project written by `orderpoc init`, its processor edited to use a package, deployed."""
    root = tmp_path_factory.mktemp("shop")
    env = {k: v for k, v in cli.env.items() if k != "ORDERPOC_STACK"}  # the project's file names the stack
    env["XDG_CACHE_HOME"] = str(root.parent / f"{root.name}-cache")  # pip really installs, once
    runner = type(cli)(env, root)
    runner.run("init", ".", "--stack", STACK)
    (root / "lambda_src" / "requirements.txt").write_text("inflection==0.5.1\n")
    processor = root / "lambda_src" / "processor.py"
    processor.write_text(processor.read_text() + PROCESSOR_EDIT)
    (root / "orderpoc.toml").write_text(
        (root / "orderpoc.toml").read_text() + "\n[stages.big.functions.processor]\nmemory = 512\n"
    )
    runner.up = runner.json("up")  # type: ignore[attr-defined]
    yield runner
    runner.run("down", check=False)
    runner.run("down", "--stage", "big", check=False)


def _api_key(cli) -> str:
    return cli.client("apigateway").get_api_keys(nameQuery=f"{STACK}-key", includeValues=True)["items"][0]["value"]


def _post(cli, invoke_url: str, customer: str) -> str:
    order = {"customerId": customer, "items": [{"sku": "A-1", "quantity": 1, "unitPrice": "2.50"}]}
    response = http_client.post_json(f"{invoke_url}/order", order, {"x-api-key": _api_key(cli)})
    assert response.status == 202, response.body
    return str(response.json()["orderId"])


def test_project_code_with_a_dependency_is_deployed_and_runs(proj) -> None:
    order_id = _post(proj, proj.up["invoke_url"], "DemoCustomer")
    table = proj.client("dynamodb")
    item = wait_for(
        lambda: table.get_item(TableName=f"{STACK}-orders", Key={"orderId": {"S": order_id}}).get("Item"),
        timeout=60.0,
        interval=0.2,
    )
    assert item["customerSlug"] == {"S": "demo_customer"}  # computed by inflection inside the function


def test_a_second_up_changes_nothing(proj) -> None:
    again = proj.json("up")
    assert set(again["actions"].values()) == {"unchanged"}


def test_a_stage_deploys_its_own_stack_with_its_settings(proj) -> None:
    staged = proj.json("up", "--stage", "big")
    assert staged["stack"] == f"{STACK}-big"
    lam = proj.client("lambda")
    assert lam.get_function(FunctionName=f"{STACK}-big-processor")["Configuration"]["MemorySize"] == 512
    assert lam.get_function(FunctionName=f"{STACK}-big-intake")["Configuration"]["MemorySize"] == 256
    assert lam.get_function(FunctionName=f"{STACK}-processor")["Configuration"]["MemorySize"] == 256


def test_a_bad_setting_is_one_line_and_exit_2(proj, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    proj.run("init", str(broken))
    (broken / "orderpoc.toml").write_text("[functions.processor]\nmemory = 64\n")
    result = proj.run("up", "--project", str(broken), check=False)
    assert result.returncode == 2
    assert "functions.processor.memory = 64" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_watch_redeploys_a_saved_edit_before_the_next_order(proj) -> None:
    sqs, sns = proj.client("sqs"), proj.client("sns")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{STACK}-order-events"))
    queue_url = sqs.create_queue(QueueName=f"{STACK}-watch-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "orderpoc", "up", "--watch"],
        cwd=proj.cwd, env={**proj.env, **DUMP_ON_ABORT}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    output: queue.Queue[str] = queue.Queue()
    assert watcher.stdout is not None
    reader = threading.Thread(target=lambda: [output.put(line) for line in watcher.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        _read_until(output, lines, "Watching")
        notifier = proj.cwd / "lambda_src" / "notifier.py"
        notifier.write_text(notifier.read_text() + NOTIFIER_EDIT)
        _read_until(output, lines, "redeployed")
        assert any("fn:notifier" in line for line in lines) and not any("fn:processor" in line for line in lines)
        order_id = _post(proj, proj.up["invoke_url"], "watcher")

        def subject_of_order() -> str | None:
            for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
                envelope = json.loads(message["Body"])
                if json.loads(envelope["Message"]).get("orderId") == order_id:
                    return str(envelope.get("Subject"))
            return None

        assert wait_for(subject_of_order, timeout=60.0, interval=0.2).startswith("v2 Order ")
    finally:
        watcher.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        try:
            wait_or_dump(watcher, 30)
        except AssertionError:
            reader.join(timeout=10)  # its last lines: the hung watcher's stacks
            while not output.empty():
                lines.append(output.get())
            raise AssertionError("".join(lines)) from None
        finally:
            sns.unsubscribe(SubscriptionArn=subscription)
            sqs.delete_queue(QueueUrl=queue_url)
    _read_until(output, lines, "Stopped watching")
    assert watcher.returncode == 0, "".join(lines)
    assert "Traceback" not in "".join(lines)


def _read_until(output: queue.Queue[str], lines: list[str], marker: str, timeout: float = 60.0) -> None:
    """Collect the watcher's lines until one holds marker; the deadline guards a hung watcher."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = output.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        lines.append(line)
        if marker in line:
            return
    raise AssertionError(f"no {marker!r} within {timeout}s: {''.join(lines)}")
