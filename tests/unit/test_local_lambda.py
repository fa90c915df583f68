"""The embedded Lambda runtime through the Invoke API: code, env, warm workers, errors, logs."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from local_helpers import Emulator, make_zip, wait_for

from orderpoc.local import procs

ECHO = """
import logging, os, time
print("cold start")
def handler(event, context):
    print("got", event)
    logging.getLogger().warning("careful %s", 1)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "pid": os.getpid(), "x": os.environ.get("X"), "region": os.environ["AWS_REGION"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"], "name": context.function_name,
        "request_id": context.aws_request_id, "remaining": context.get_remaining_time_in_millis(),
        "stream": context.log_stream_name, "version": os.environ.get("V", "1"),
    }
"""


@pytest.fixture(scope="module")
def echo(emulator: Emulator) -> str:
    emulator.function("echo", ECHO, env={"X": "from-env"})
    return "echo"


def test_invoke_runs_the_uploaded_code_with_its_environment(emulator: Emulator, echo: str) -> None:
    response, body = emulator.invoke(echo, {"a": 1})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert body["x"] == "from-env"
    assert body["region"] == "us-east-1"
    assert body["endpoint"] == emulator.status.endpoint
    assert body["name"] == "echo"
    assert 0 < body["remaining"] <= 3000
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == body["request_id"]


def test_second_invoke_is_served_warm_by_the_same_worker(emulator: Emulator, echo: str) -> None:
    _, first = emulator.invoke(echo)
    _, second = emulator.invoke(echo)
    assert first["pid"] == second["pid"]


def test_prints_and_logging_land_in_the_log_group_with_lambda_lines(emulator: Emulator, echo: str) -> None:
    response, body = emulator.invoke(echo, {"marker": "m-1"}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "got {'marker': 'm-1'}" in tail and f"END RequestId: {body['request_id']}" in tail
    messages = wait_for(
        lambda: [m for m in emulator.log_messages(echo) if body["request_id"] in m or "m-1" in m], what="log events"
    )
    assert f"START RequestId: {body['request_id']} Version: $LATEST" in messages
    assert "got {'marker': 'm-1'}" in messages
    assert any(m.startswith("[WARNING]") and "careful 1" in m for m in messages)
    assert any(m.startswith(f"REPORT RequestId: {body['request_id']}\tDuration:") for m in messages)
    assert "cold start" in emulator.log_messages(echo)
    streams = emulator.client("logs").describe_log_streams(logGroupName="/aws/lambda/echo")["logStreams"]
    assert body["stream"] in {s["logStreamName"] for s in streams}
    assert body["stream"].split("/")[3].startswith("[$LATEST]")


def test_a_deleted_log_group_is_not_made_again_by_an_invocation(emulator: Emulator) -> None:
    # as on AWS, where the stack's roles may not create log groups: an invocation still running
    # while `down` deletes the group must not bring it back
    emulator.function("nogroup", ECHO)
    emulator.invoke("nogroup")
    logs = emulator.client("logs")
    assert wait_for(lambda: emulator.log_messages("nogroup"), what="the first invocation's lines")
    logs.delete_log_group(logGroupName="/aws/lambda/nogroup")
    response, _ = emulator.invoke("nogroup", LogType="Tail")
    assert "START RequestId" in base64.b64decode(response["LogResult"]).decode()  # its lines were written
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/nogroup")["logGroups"] == []


def test_code_update_replaces_the_worker(emulator: Emulator) -> None:
    emulator.function("upd", ECHO)
    _, before = emulator.invoke("upd")
    emulator.client("lambda").update_function_code(
        FunctionName="upd", ZipFile=make_zip({"app.py": ECHO.replace('"1")', '"2")')})
    )
    _, after = emulator.invoke("upd")
    assert after["version"] == "2" and after["pid"] != before["pid"]
    wait_for(lambda: not procs.alive(before["pid"]), what="the old worker to exit")


def test_configuration_update_replaces_the_worker(emulator: Emulator) -> None:
    emulator.function("cfg", ECHO, env={"X": "old"})
    _, before = emulator.invoke("cfg")
    emulator.client("lambda").update_function_configuration(FunctionName="cfg", Environment={"Variables": {"X": "new"}})
    _, after = emulator.invoke("cfg")
    assert (after["x"], before["x"]) == ("new", "old") and after["pid"] != before["pid"]


def test_a_run_past_the_timeout_is_killed_and_reported_like_lambda(emulator: Emulator) -> None:
    emulator.function("slow", ECHO, timeout=1)
    _, warm = emulator.invoke("slow")
    response, body = emulator.invoke("slow", {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    wait_for(lambda: not procs.alive(warm["pid"]), what="the timed-out worker to be killed")
    assert any("Task timed out after 1.00 seconds" in m for m in emulator.log_messages("slow"))
    _, again = emulator.invoke("slow")  # a fresh environment takes over
    assert again["pid"] != warm["pid"]


def test_handler_exception_gives_lambdas_error_payload_and_log(emulator: Emulator) -> None:
    emulator.function("boom", "def handler(event, context):\n    raise ValueError('bad order')\n")
    response, body = emulator.invoke("boom")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "bad order"
    assert isinstance(body["stackTrace"], list) and "raise ValueError" in "".join(body["stackTrace"])
    assert any(m.startswith("[ERROR] ValueError: bad order") for m in emulator.log_messages("boom"))


def test_import_error_is_an_init_error(emulator: Emulator) -> None:
    emulator.function("broken", "import not_a_module\ndef handler(e, c):\n    return 1\n")
    response, body = emulator.invoke("broken")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'app'" in body["errorMessage"]


def test_event_invocation_runs_in_the_background_and_the_code_can_call_aws(emulator: Emulator) -> None:
    url, _ = emulator.queue("async-out")
    emulator.function(
        "sender",
        (
            "import boto3, json, os\n"
            "def handler(event, context):\n"
            "    boto3.client('sqs').send_message(QueueUrl=os.environ['Q'], MessageBody=json.dumps(event))\n"
        ),
        env={"Q": url},
    )
    response = emulator.client("lambda").invoke(
        FunctionName="sender", InvocationType="Event", Payload=json.dumps({"n": 7})
    )
    assert response["StatusCode"] == 202
    messages = wait_for(lambda: emulator.drain(url, wait=1), what="the async invocation's message")
    assert json.loads(messages[0]["Body"]) == {"n": 7}


def test_dry_run_checks_without_running(emulator: Emulator, echo: str) -> None:
    response = emulator.client("lambda").invoke(FunctionName=echo, InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_unknown_function_is_resource_not_found(emulator: Emulator) -> None:
    lam = emulator.client("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="nope", Payload=b"{}")


def test_deleting_a_function_stops_its_workers_before_the_call_answers(emulator: Emulator) -> None:
    emulator.function("gone", ECHO)
    pid = emulator.invoke("gone", {})[1]["pid"]
    assert procs.alive(pid)
    emulator.client("lambda").delete_function(FunctionName="gone")
    assert not procs.alive(pid)  # not at the next sweep, seconds later: `down` leaves no process


def test_concurrent_invocations_use_several_workers_up_to_the_bound(emulator: Emulator) -> None:
    emulator.function("par", ECHO)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: emulator.invoke("par", {"sleep": 0.3})[1], range(8)))
    pids = {r["pid"] for r in results}
    assert 1 < len(pids) <= 4
