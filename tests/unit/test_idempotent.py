"""create_once: throttled creates are resent; after an ambiguous failure the resource is looked up."""

from __future__ import annotations

import botocore.exceptions
import pytest

from orderpoc.idempotent import create_once


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateThing"
    )


class Script:
    """create() raises the scripted errors in turn, then succeeds; find() answers what it is told."""

    def __init__(self, errors, found=None):
        self.errors, self.found, self.creates, self.finds = list(errors), found, 0, 0

    def create(self):
        self.creates += 1
        if self.errors:
            raise self.errors.pop(0)
        return "created"

    def find(self):
        self.finds += 1
        return self.found


def run(script: Script):
    return create_once(script.create, script.find, sleep=lambda seconds: None)


def test_throttled_create_is_resent_without_a_lookup():
    script = Script([client_error("TooManyRequestsException", 429), client_error("Throttling", 400)])
    assert run(script) == "created"
    assert (script.creates, script.finds) == (3, 0)


def test_lost_answer_adopts_what_aws_made():
    script = Script([client_error("InternalFailure", 500)], found="adopted")
    assert run(script) == "adopted"
    assert (script.creates, script.finds) == (1, 1)


def test_read_timeout_with_nothing_found_creates_again():
    timeout = botocore.exceptions.ReadTimeoutError(endpoint_url="https://x")
    script = Script([timeout], found=None)
    assert run(script) == "created"
    assert (script.creates, script.finds) == (2, 1)


def test_client_errors_are_not_retried():
    script = Script([client_error("ValidationException", 400)])
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationException"):
        run(script)
    assert (script.creates, script.finds) == (1, 0)


def test_gives_up_after_the_attempts():
    script = Script([client_error("ThrottlingException", 400)] * 10)
    with pytest.raises(botocore.exceptions.ClientError):
        run(script)
    assert script.creates == 8
