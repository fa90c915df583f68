"""The whole pipeline on the embedded AWS, driven through the real CLI."""

from __future__ import annotations

import json

import pytest
from e2e_helpers import wait_for

from orderpoc import http_client
from orderpoc.cli.output import validate

pytestmark = pytest.mark.e2e


def _api_key(cli) -> str:
    keys = cli.client("apigateway").get_api_keys(nameQuery="e2e-key", includeValues=True)["items"]
    return keys[0]["value"]


def test_up_reports_every_resource_and_rerun_is_unchanged(cli, deployed):
    assert deployed["invoke_url"].startswith(f"{cli.endpoint}/restapis/")
    assert set(deployed["actions"].values()) <= {"create", "unchanged"}
    again = cli.json("up")
    assert set(again["actions"].values()) == {"unchanged"}
    status = cli.json("status")
    assert status["healthy"] is True
    assert {r["state"] for r in status["resources"]} == {"ok"}


def test_an_order_goes_through_every_hop(cli, deployed):
    sqs, sns = cli.client("sqs"), cli.client("sns")
    topic_arn = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":e2e-order-events"))
    watch_url = sqs.create_queue(QueueName="e2e-test-watch")["QueueUrl"]
    watch_arn = sqs.get_queue_attributes(QueueUrl=watch_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=watch_arn)["SubscriptionArn"]
    try:
        url = deployed["invoke_url"] + "/order"
        order = {"customerId": "c-e2e", "items": [{"sku": "A-1", "quantity": 3, "unitPrice": "2.50"}]}
        response = http_client.post_json(url, order, {"x-api-key": _api_key(cli)})
        assert response.status == 202, response.body
        order_id = response.json()["orderId"]
        item = wait_for(
            lambda: (
                cli.client("dynamodb").get_item(TableName="e2e-orders", Key={"orderId": {"S": order_id}}).get("Item")
            )
        )
        assert item["customerId"]["S"] == "c-e2e"

        def notified():
            for message in sqs.receive_message(QueueUrl=watch_url, WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(json.loads(message["Body"])["Message"])
                if body.get("orderId") == order_id:
                    return body
            return None

        body = wait_for(notified)
        assert body["customerId"] == "c-e2e"
        got = http_client.request("GET", f"{url}/{order_id}", headers={"x-api-key": _api_key(cli)})
        assert got.status == 200 and got.json()["orderId"] == order_id
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=watch_url)


def test_api_key_and_validator_are_enforced(cli, deployed):
    url = deployed["invoke_url"] + "/order"
    good = {"customerId": "c", "items": [{"sku": "A", "quantity": 1, "unitPrice": 1}]}
    assert http_client.post_json(url, good, {}).status == 403
    assert http_client.post_json(url, good, {"x-api-key": "not-a-key"}).status == 403
    bad = http_client.post_json(url, {"customerId": "c", "items": []}, {"x-api-key": _api_key(cli)})
    assert bad.status == 400 and "should be non-empty" in bad.json()["message"]  # the validator says why
    rounding = http_client.post_json(
        url,
        {"customerId": "c", "items": [{"sku": "A", "quantity": 1, "unitPrice": "1.001"}]},
        {"x-api-key": _api_key(cli)},
    )
    # The model states intake's own limits (two decimals here), so the gateway refuses it first.
    assert rounding.status == 400 and "/items/0/unitPrice" in rounding.json()["message"]


def _probe_leftovers(cli) -> list[str]:
    queues = cli.client("sqs").list_queues(QueueNamePrefix="e2e-probe-").get("QueueUrls", [])
    subscriptions = [
        s["Endpoint"] for s in cli.client("sns").list_subscriptions()["Subscriptions"] if ":e2e-probe-" in s["Endpoint"]
    ]
    return queues + subscriptions


def test_send_test_order_passes_and_leaves_no_probe_queue(cli, deployed):
    result = cli.json("send-test-order")
    assert result["ok"] is True and set(result["hops"]) == {"accepted", "stored", "notified"}
    assert _probe_leftovers(cli) == []


def test_send_test_order_with_an_order_file(cli, deployed, tmp_path):
    order = tmp_path / "order.json"
    order.write_text(json.dumps({"customerId": "from-file", "items": [{"sku": "F-1", "quantity": 1, "unitPrice": 5}]}))
    result = cli.json("send-test-order", "--order", str(order))
    assert result["ok"] is True
    item = cli.client("dynamodb").get_item(TableName="e2e-orders", Key={"orderId": {"S": result["order_id"]}})["Item"]
    assert item["customerId"]["S"] == "from-file"


def test_killed_send_test_order_cleans_up_its_probe(cli, deployed):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "orderpoc", "send-test-order", "--count", "2000", "--rate", "5"],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: _probe_leftovers(cli) and len(_probe_leftovers(cli)) == 2)  # queue and subscription
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert _probe_leftovers(cli) == []


def test_email_notifications_reach_the_local_outbox(cli, deployed):
    assert cli.json("up", "--notify-email", "ops@example.com")["actions"]["email:ops@example.com"] == "create"
    order_id = cli.json("send-test-order")["order_id"]
    mails = wait_for(lambda: [m for m in cli.json("local", "outbox")["emails"] if order_id in json.dumps(m)])
    assert mails[0]["endpoint"] == "ops@example.com"


def test_send_test_order_invalid(cli, deployed):
    result = cli.json("send-test-order", "--invalid")
    assert result["ok"] is True, result
    assert result["stored"] == 0


def test_load_mode_loses_and_duplicates_nothing(cli, deployed):
    result = cli.json("send-test-order", "--count", "300", "--concurrency", "8", "--timeout", "120")
    assert result["ok"] is True, result
    assert result["accepted"] == result["stored"] == result["notified"] == 300
    assert result["duplicates"] == 0 and result["missing"] == {"stored": 0, "notified": 0}
    assert _probe_leftovers(cli) == []


def test_an_unreadable_row_goes_to_the_failure_queue_alone_and_orders_still_flow(cli, deployed):
    sqs = cli.client("sqs")
    failures_url = sqs.get_queue_url(QueueName="e2e-notifier-failures")["QueueUrl"]
    # A row the notifier cannot describe (items is not a list): poison for the stream hop.
    cli.client("dynamodb").put_item(
        TableName="e2e-orders", Item={"orderId": {"S": "poison-e2e"}, "items": {"S": "not a list"}}
    )

    def failure_record():
        for message in sqs.receive_message(QueueUrl=failures_url, WaitTimeSeconds=1).get("Messages", []):
            return json.loads(message["Body"])
        return None

    record = wait_for(failure_record)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    streams = cli.client("dynamodbstreams")
    stream_arn = record["DDBStreamBatchInfo"]["streamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    rows = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    poison_seq = next(
        r["dynamodb"]["SequenceNumber"] for r in rows if r["dynamodb"]["Keys"]["orderId"]["S"] == "poison-e2e"
    )
    assert record["DDBStreamBatchInfo"]["startSequenceNumber"] == poison_seq
    assert cli.json("send-test-order")["ok"] is True  # the shard moved on past it
    cli.client("dynamodb").delete_item(TableName="e2e-orders", Key={"orderId": {"S": "poison-e2e"}})


def test_disabled_processor_mapping_fails_the_stored_hop_and_up_repairs_it(cli, deployed):
    lam = cli.client("lambda")
    mapping = next(m for m in lam.list_event_source_mappings(FunctionName="e2e-processor")["EventSourceMappings"])
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    trace = cli.json("send-test-order", "--timeout", "3", check=False)
    assert trace["ok"] is False and trace["failed_hop"] == "stored"
    drifted = [r for r in cli.json("status", check=False)["resources"] if r["state"] == "drifted"]
    assert [r["key"] for r in drifted] == ["esm:processor"]
    # drift is data, not prose: which field, what it is, what it should be
    enabled = next(d for d in drifted[0]["drift"] if d["field"] == "enabled")
    assert enabled["live"] is False and enabled["desired"] is True
    repaired = cli.json("up")
    assert repaired["actions"]["esm:processor"] == "update"
    # the order that waited in the queue is processed once the mapping is enabled again
    wait_for(
        lambda: (
            cli.client("dynamodb")
            .get_item(TableName="e2e-orders", Key={"orderId": {"S": trace["order_id"]}})
            .get("Item")
        )
    )
    assert cli.json("send-test-order")["ok"] is True


def test_bad_input_is_one_line_and_exit_2(cli):
    fake_credentials = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    for args in (
        ["up", "--stack", "Bad_Name"],
        ["status", "--region", "mars-1"],
        ["up", "--bogus"],
        ["status", "--target", "aws", "--endpoint-url", "http://127.0.0.1:9"],
    ):
        result = cli.run(*args, check=False, env=fake_credentials)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    no_creds = cli.run("status", "--target", "aws", check=False)
    assert no_creds.returncode == 2 and "credentials" in no_creds.stderr


def test_restart_loses_resources_and_up_rebuilds(cli, deployed):
    assert cli.json("local", "stop")["stopped"] is True
    assert cli.json("local", "start")["running"] is True
    document = cli.json("status", check=False)
    assert document["healthy"] is False
    assert any("restarted" in notice for notice in document["notices"])
    rebuilt = cli.json("up")
    assert set(rebuilt["actions"].values()) == {"create"}
    assert cli.json("send-test-order")["ok"] is True


def test_down_leaves_nothing(cli, deployed):
    result = cli.json("down")
    assert result["leftovers"] == []
    assert cli.client("sqs").list_queues(QueueNamePrefix="e2e-").get("QueueUrls", []) == []
    assert [f for f in cli.client("lambda").list_functions()["Functions"] if f["FunctionName"].startswith("e2e-")] == []
    assert cli.client("apigateway").get_rest_apis()["items"] == []
    assert cli.client("dynamodb").list_tables()["TableNames"] == []


def test_plan_names_an_out_of_band_edit_and_up_applies_exactly_it(cli, deployed):
    cli.json("up")  # an earlier test may have taken the stack down
    clean = cli.run("plan", "--json", check=False)
    assert clean.returncode == 0 and json.loads(clean.stdout)["pending"] is False
    sqs = cli.client("sqs")
    url = sqs.get_queue_url(QueueName="e2e-orders")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "31"})
    pending = cli.run("plan", "--json", check=False)
    assert pending.returncode == 3
    plan = json.loads(pending.stdout)
    validate("plan", plan)
    changed = {r["key"]: r for r in plan["resources"] if r["action"] != "unchanged"}
    assert list(changed) == ["queue"] and changed["queue"]["action"] == "update"
    assert changed["queue"]["changes"] == [{"field": "visibility_timeout", "live": 31, "desired": 180}]
    text = cli.run("plan", check=False).stdout
    assert "visibility_timeout: 31 -> 180" in text and "0 to create, 1 to update, 0 to replace, 0 to delete" in text
    applied = cli.json("up")
    assert {k: a for k, a in applied["actions"].items() if a != "unchanged"} == {"queue": "update"}
    assert cli.run("plan", check=False).returncode == 0
