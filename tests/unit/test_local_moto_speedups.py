"""The embedded AWS's shortcuts through moto answer what moto (and AWS) answer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from local_helpers import Emulator, free_port
from moto import mock_aws
from moto.core import serialize

from orderpoc.local import lifecycle, model_loader, moto_serialize

REGION = "us-east-1"


def _raw_bodies(calls: Callable[[dict[str, Any]], None]) -> list[bytes]:
    """The HTTP bodies moto rendered for `calls`, in order (without the XML's random RequestId)."""
    bodies: list[bytes] = []
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
    session.events.register(
        "after-call",
        lambda http_response, **_: bodies.append(re.sub(rb"<RequestId>[^<]*</RequestId>", b"", http_response.content)),
    )
    clients = {name: session.client(name) for name in ("sqs", "sns", "dynamodb")}
    calls(clients)
    return bodies


def _reads(clients: dict[str, Any]) -> None:
    """Read-only calls over the same state: each rendering must be byte for byte the same."""
    sqs, sns, ddb = clients["sqs"], clients["sns"], clients["dynamodb"]
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    sqs.list_queues()
    sqs.list_queue_tags(QueueUrl=url)
    sns.list_topics()
    topic = sns.list_topics()["Topics"][0]["TopicArn"]
    sns.get_topic_attributes(TopicArn=topic)
    sns.list_subscriptions()
    sns.list_tags_for_resource(ResourceArn=topic)
    ddb.describe_table(TableName="t")
    ddb.get_item(TableName="t", Key={"id": {"S": "a"}}, ConsistentRead=True)
    ddb.batch_get_item(RequestItems={"t": {"Keys": [{"id": {"S": "a"}}, {"id": {"S": "b"}}]}})
    ddb.query(TableName="t", KeyConditionExpression="id = :a", ExpressionAttributeValues={":a": {"S": "a"}})
    ddb.scan(TableName="t", ReturnConsumedCapacity="INDEXES")


def _setup(clients: dict[str, Any]) -> None:
    sqs, sns, ddb = clients["sqs"], clients["sns"], clients["dynamodb"]
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "7"}, tags={"k": "v"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="topic", Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    item = {"L": [{"M": {"n": {"N": "1.50"}, "b": {"B": b"\x00\x01"}, "ok": {"BOOL": True}}}], "SS": ["x", "y"]}
    ddb.put_item(TableName="t", Item={"id": {"S": "a"}, "nested": item["L"][0], "list": {"L": item["L"]}})
    ddb.put_item(TableName="t", Item={"id": {"S": "b"}, "set": {"SS": item["SS"]}, "none": {"NULL": True}})
    sns.publish(TopicArn=topic, Message="hello", MessageAttributes={"a": {"DataType": "String", "StringValue": "1"}})


def test_memoized_serializer_renders_every_response_as_moto_does(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_original = serialize.ResponseSerializer.get_value
    with mock_aws():
        _raw_bodies(_setup)
        expected = _raw_bodies(_reads)
        monkeypatch.setattr(serialize.ResponseSerializer, "get_value", moto_serialize.fast_get_value(moto_original))
        first, again = _raw_bodies(_reads), _raw_bodies(_reads)  # a miss, then the memo's hits
    assert len(expected) == 14
    assert first == expected
    assert again == expected


def test_memoized_serializer_renders_messages_and_errors_as_moto_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Receives change state (receipt handles, counts): two queues filled alike, one rendered each way."""

    def receive_from(queue: str) -> Callable[[dict[str, Any]], None]:
        def calls(clients: dict[str, Any]) -> None:
            url = clients["sqs"].get_queue_url(QueueName=queue)["QueueUrl"]
            clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
            with pytest.raises(clients["sqs"].exceptions.QueueDoesNotExist):
                clients["sqs"].get_queue_url(QueueName="nope")

        return calls

    def fill(clients: dict[str, Any]) -> None:
        for queue in ("q1", "q2"):
            url = clients["sqs"].create_queue(QueueName=queue)["QueueUrl"]
            for i in range(3):
                clients["sqs"].send_message(
                    QueueUrl=url,
                    MessageBody=json.dumps({"i": i}),
                    MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
                )

    def volatile_free(body: bytes) -> Any:
        doc = json.loads(body)
        for message in doc.get("Messages", []):
            for key in ("MessageId", "ReceiptHandle"):
                message.pop(key)
            for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
                message["Attributes"].pop(key)
        return doc

    moto_original = serialize.ResponseSerializer.get_value
    with mock_aws():
        _raw_bodies(fill)
        expected = _raw_bodies(receive_from("q1"))
        monkeypatch.setattr(serialize.ResponseSerializer, "get_value", moto_serialize.fast_get_value(moto_original))
        got = _raw_bodies(receive_from("q2"))
    assert [volatile_free(b) for b in got[1:]] == [volatile_free(b) for b in expected[1:]]
    assert len(volatile_free(got[1])["Messages"]) == 3
    assert b"QueueDoesNotExist" in got[2]


def test_a_count_scan_answers_without_items(emulator: Emulator) -> None:
    ddb = emulator.client("dynamodb")
    ddb.create_table(
        TableName="count-scan",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(5):
        ddb.put_item(TableName="count-scan", Item={"id": {"S": str(i)}, "odd": {"BOOL": i % 2 == 1}})
    counted = ddb.scan(
        TableName="count-scan",
        Select="COUNT",
        FilterExpression="odd = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    assert (counted["Count"], counted["ScannedCount"]) == (2, 5)
    assert "Items" not in counted
    assert len(ddb.scan(TableName="count-scan")["Items"]) == 5  # without Select, the items as before


def test_the_emulator_loads_no_default_amis_whatever_the_callers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tagging API's walk instantiates EC2's backend: without AMIs, orderpoc never uses them."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")  # the server's own setting wins
    state_dir, port = tmp_path / "state", free_port()
    status = lifecycle.start(state_dir, port)
    try:
        ec2 = boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=status.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        assert ec2.describe_images(Owners=["amazon"])["Images"] == []
    finally:
        lifecycle.stop(state_dir, port)


def _tagged_resources(session: boto3.session.Session) -> None:
    """One or two tagged (and one untagged) resource of every service tagging.py serves."""
    from lambda_helpers import TRUST, make_zip

    stack = [{"Key": "orderpoc:stack", "Value": "s1"}, {"Key": "team", "Value": "a"}]
    other = [{"Key": "orderpoc:stack", "Value": "s2"}]
    s3, sqs, sns = session.client("s3"), session.client("sqs"), session.client("sns")
    for bucket, tags in (("b-one", stack), ("b-two", other)):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    s3.create_bucket(Bucket="b-untagged")
    for name, tags in (("q-one", stack), ("q-two", other), ("q-untagged", [])):
        sqs.create_queue(QueueName=name, tags={t["Key"]: t["Value"] for t in tags})
    for name, tags in (("t-one", stack), ("t-two", other)):
        sns.create_topic(Name=name, Tags=tags)
    session.client("dynamodb").create_table(
        TableName="tbl",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=stack,
    )
    session.client("logs").create_log_group(logGroupName="/lg", tags={"orderpoc:stack": "s1"})
    session.client("events").create_event_bus(Name="bus", Tags=other)
    session.client("cloudwatch").put_metric_alarm(
        AlarmName="alarm",
        MetricName="m",
        Namespace="n",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        Tags=stack,
    )
    role = session.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    session.client("lambda").create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": make_zip()},
        Tags={"orderpoc:stack": "s1"},
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"TagFilters": [{"Key": "orderpoc:stack"}]},
        {"TagFilters": [{"Key": "orderpoc:stack", "Values": ["s1"]}, {"Key": "team"}]},
        {
            "TagFilters": [{"Key": "orderpoc:stack", "Values": ["s1", "s2"]}],
            "ResourceTypeFilters": ["sqs", "s3:bucket"],
        },
        {"ResourceTypeFilters": ["cloudwatch:alarm", "lambda", "dynamodb:table", "logs", "events", "sns"]},
        {"ResourceTypeFilters": ["ec2"]},
        {"ResourcesPerPage": 3},
        {"TagsPerPage": 4},
    ],
)
def test_get_resources_over_the_served_services_is_motos_answer(params: dict[str, Any]) -> None:
    from moto.resourcegroupstaggingapi.models import resourcegroupstaggingapi_backends

    from orderpoc.local import tagging

    def pages(first: Callable[[str | None], tuple[str | None, list[dict[str, Any]]]]) -> list[list[dict[str, Any]]]:
        out, token = [], None
        while True:
            token, page = first(token)
            out.append(page)
            if not token:
                return out

    with mock_aws():
        session = boto3.session.Session(region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
        _tagged_resources(session)
        account = session.client("sts").get_caller_identity()["Account"]
        moto_backend = resourcegroupstaggingapi_backends[account][REGION]
        expected = pages(
            lambda token: moto_backend.get_resources(
                pagination_token=token,
                tag_filters=params.get("TagFilters", []),
                resources_per_page=params.get("ResourcesPerPage", 50),
                tags_per_page=params.get("TagsPerPage", 100),
                resource_type_filters=params.get("ResourceTypeFilters", []),
            )
        )

        def ours(token: str | None) -> tuple[str | None, list[dict[str, Any]]]:
            answer = tagging.get_resources(account, REGION, {**params, "PaginationToken": token})
            return answer["PaginationToken"], answer["ResourceTagMappingList"]

        got = pages(ours)
    assert got == expected
    assert sum(len(page) for page in got) > 0 or params.get("ResourceTypeFilters") == ["ec2"]


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_get_resources_is_served_by_the_emulator_without_motos_tagging_module(emulator: Emulator) -> None:
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName="tag-served", tags={"orderpoc:stack": "served"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    tagging_api = emulator.client("resourcegroupstaggingapi")
    pid = emulator.status.pid
    assert pid is not None
    query = {"TagFilters": [{"Key": "orderpoc:stack", "Values": ["served"]}]}
    before = _rss_mb(pid)
    found = tagging_api.get_resources(**query)["ResourceTagMappingList"]
    assert found == [{"ResourceARN": arn, "Tags": [{"Key": "orderpoc:stack", "Value": "served"}]}]
    served = _rss_mb(pid) - before
    tagging_api.get_tag_keys()  # not served here: moto's tagging module and its ~45 services load
    loaded = _rss_mb(pid) - before
    assert served < 20 < 60 < loaded, (served, loaded)
    assert tagging_api.get_resources(**query)["ResourceTagMappingList"] == found  # now moto's own answer


def test_every_botocore_model_moto_reads_is_parsed_once_into_plain_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core import utils
    from moto.core.base_backend import AccountSpecificBackend

    model_loader.share()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    utils.get_service_model.cache_clear()  # an earlier test of this process may have asked already
    for_responses = utils.get_service_model("lambda")  # moto's serializer and errors
    for_urls = boto3.client("lambda", region_name=REGION)._service_model  # moto's per-operation URLs
    for_regions = AccountSpecificBackend.get_session().client("lambda", region_name=REGION)._service_model
    model = for_responses._service_description
    assert for_urls._service_description is model and for_regions._service_description is model
    assert type(model) is dict and type(model["shapes"]) is dict


def test_moto_keeps_no_message_or_queue_once_they_are_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's dashboard list of every model instance (`instances_tracked`) held every message the
    emulator ever carried; with `untrack_models` a deleted queue and its messages can be freed."""
    import gc

    from moto.core.common_models import BaseModel
    from moto.sqs.models import Message, Queue

    from orderpoc.local import patches

    monkeypatch.setattr(BaseModel, "__new__", BaseModel.__dict__["__new__"])  # moto's, back after the test
    patches.untrack_models()
    with mock_aws():
        sqs = boto3.session.Session(region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test").client(
            "sqs"
        )
        url = sqs.create_queue(QueueName="gone")["QueueUrl"]
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert len(received) == 3
        sqs.delete_queue(QueueUrl=url)
        gc.collect()
        assert Message.instances_tracked == [] and Queue.instances_tracked == []
        assert [o for o in gc.get_objects() if isinstance(o, Message | Queue)] == []
