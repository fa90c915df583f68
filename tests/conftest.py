"""Settings every test needs before any boto3 client exists."""

import os

# botocore >= 1.44 sends DynamoDB Streams calls to account-based hosts
# ({account}.streams-ddb.{region}.amazonaws.com) that moto's in-process mock (5.2.x) does not
# route yet. Real AWS and the embedded AWS (explicit endpoint URL) are unaffected.
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
