"""create_once and delete_once: throttled writes are resent; after an ambiguous failure, a look decides."""

from __future__ import annotations

import botocore.exceptions
import pytest

from orderpoc.idempotent import create_once, delete_once


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


def test_a_throttled_look_after_a_lost_answer_is_asked_again_before_any_create():
    """The lost create made it: sending it again, because the look was throttled, made a twin."""
    script = Script([client_error("InternalFailure", 500)], found="adopted")
    looks = [client_error("TooManyRequestsException", 429), client_error("Throttling", 400)]

    def find():
        script.finds += 1
        if looks:
            raise looks.pop(0)
        return script.found

    assert create_once(script.create, find, sleep=lambda seconds: None) == "adopted"
    assert (script.creates, script.finds) == (1, 3)


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


class DeleteScript:
    """delete() raises the scripted errors in turn, then succeeds; gone() answers what it is told."""

    def __init__(self, errors, gone=False):
        self.errors, self.is_gone, self.deletes, self.checks = list(errors), gone, 0, 0

    def delete(self):
        self.deletes += 1
        if self.errors:
            raise self.errors.pop(0)
        return {}

    def gone(self):
        self.checks += 1
        return self.is_gone


def run_delete(script: DeleteScript) -> bool:
    return delete_once(script.delete, script.gone, sleep=lambda seconds: None)


def test_delete_of_nothing_is_false():
    script = DeleteScript([client_error("NotFoundException", 404)])
    assert run_delete(script) is False
    assert (script.deletes, script.checks) == (1, 0)


def test_lost_delete_answer_that_was_carried_out_is_done():
    script = DeleteScript([client_error("InternalFailure", 500)], gone=True)
    assert run_delete(script) is True
    assert (script.deletes, script.checks) == (1, 1)


def test_lost_delete_answer_that_was_not_carried_out_is_sent_again():
    script = DeleteScript([client_error("InternalFailure", 500)], gone=False)
    assert run_delete(script) is True
    assert (script.deletes, script.checks) == (2, 1)


def test_throttled_delete_is_resent_and_a_retry_that_finds_nothing_is_done():
    script = DeleteScript([client_error("TooManyRequestsException", 429), client_error("NotFoundException", 404)])
    assert run_delete(script) is False
    assert (script.deletes, script.checks) == (2, 0)
