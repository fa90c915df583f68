"""The embedded AWS's tagging API: moto's, imported without the services orderpoc never runs.

Each check runs in a fresh interpreter: this one may already hold moto's full tagging API (the
in-process tests use it), and import_light is about what a fresh server process imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from orderpoc.local import tagging_api

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.update(AWS_ACCESS_KEY_ID="t", AWS_SECRET_ACCESS_KEY="t", AWS_DEFAULT_REGION="us-east-1")
    from orderpoc.local.tagging_api import import_light
    import_light()
    import boto3
    from moto import mock_aws

    TAG = {"Key": "orderpoc:stack", "Value": "t"}
    def tagged(client):
        pages = client.get_paginator("get_resources").paginate(TagFilters=[{"Key": TAG["Key"], "Values": ["t"]}])
        return sorted(r["ResourceARN"] for page in pages for r in page["ResourceTagMappingList"])

    with mock_aws():
        c = lambda service: boto3.client(service, region_name="us-east-1")
        c("sqs").create_queue(QueueName="q", tags={TAG["Key"]: "t"})
        c("sns").create_topic(Name="topic", Tags=[TAG])
        c("dynamodb").create_table(
            TableName="table", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST", Tags=[TAG],
        )
        c("logs").create_log_group(logGroupName="/group", tags={TAG["Key"]: "t"})
        c("s3").create_bucket(Bucket="a-bucket")
        c("s3").put_bucket_tagging(Bucket="a-bucket", Tagging={"TagSet": [TAG]})
        c("sqs").create_queue(QueueName="untagged")
        tagging = c("resourcegroupstaggingapi")
        first = tagged(tagging)
        skipped = sorted(m for m in ("moto.ec2", "moto.rds", "moto.cloudformation", "moto.sagemaker") if m in sys.modules)
        # Those services still work when asked, and CloudFormation's stacks are listed once it is there.
        vpcs = len(c("ec2").describe_vpcs()["Vpcs"])
        c("cloudformation").create_stack(
            StackName="stack", TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}), Tags=[TAG]
        )
        later = tagged(tagging)
    print(json.dumps({"first": first, "skipped_imported": skipped, "vpcs": vpcs, "later": later}))
    """
)


def test_the_services_orderpoc_uses_are_listed_and_the_rest_is_not_imported_until_asked() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    kinds = [arn.split(":")[2] for arn in result["first"]]
    assert sorted(kinds) == ["dynamodb", "logs", "s3", "sns", "sqs"], result["first"]
    assert not any("untagged" in arn for arn in result["first"])
    assert result["skipped_imported"] == []  # none of them was imported for GetResources
    assert result["vpcs"] == 1  # EC2's default VPC: the real module, imported on demand
    assert any(":cloudformation:" in arn for arn in result["later"])
    assert set(result["first"]) < set(result["later"])


def test_only_services_outside_the_listed_ones_are_stood_in_for() -> None:
    source = "from moto.ec2 import ec2_backends\nfrom moto.sqs.models import SQSBackend\nfrom moto.core.base_backend import BackendDict\nfrom moto.rds.models import rds_backends\n"
    assert tagging_api.unlisted_modules(source) == ["moto.ec2", "moto.rds.models"]


def test_a_stood_in_backend_holds_nothing() -> None:
    nothing = tagging_api.NOTHING
    assert not nothing and list(nothing) == [] and len(nothing) == 0
    assert not nothing["123456789012"]["us-east-1"].instances.values()
    assert "us-east-1" not in nothing["123456789012"].regions
