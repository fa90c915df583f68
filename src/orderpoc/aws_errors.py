"""What an AWS error means: throttled, maybe carried out, not found, already there, not settled yet.

Plain predicates on botocore's exceptions, used by every resource kind and by the retries; apart
from them only botocore.exceptions is imported, so a module that only classifies errors stays
cheap to import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import botocore.exceptions

T = TypeVar("T")

THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
# The identity check's answers that mean "these credentials will not do" (expired, or not valid).
EXPIRED_CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED_CREDENTIALS = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "AuthFailure",
    "InvalidToken",
    "AccessDenied",
    "AccessDeniedException",
}
_NOT_SENT = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
_MAYBE_SENT = (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    if isinstance(exc, botocore.exceptions.ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def is_throttled(exc: BaseException) -> bool:
    """The request was turned away before AWS acted on it: sending it again is safe."""
    return error_code(exc) in THROTTLING or http_status(exc) == 429 or isinstance(exc, _NOT_SENT)


def is_ambiguous(exc: BaseException) -> bool:
    """The request may have been carried out even though no answer says so."""
    return http_status(exc) >= 500 or isinstance(exc, _MAYBE_SENT)


def is_not_found(exc: BaseException) -> bool:
    code = error_code(exc)
    return "NotFound" in code or code in {
        "NoSuchEntity",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NotFoundException",
    }


def unless_not_found(call: Callable[[], T]) -> T | None:
    """The call's result, or None when AWS answers that the thing does not exist.

    Only a ClientError that is_not_found() accepts becomes None; every other error propagates.
    A call whose own result may be None cannot tell "gone" from "done": boto3 calls return a dict.
    """
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if is_not_found(exc):
            return None
        raise


# What Lambda answers (InvalidParameterValueException) while a role, or a permission just granted to
# it, has not reached Lambda yet; lower case.
_PROPAGATION_WORDINGS = (
    "cannot be assumed",  # "The role defined for the function cannot be assumed by Lambda."
    "role defined for the function",
    "execution role does not have permissions",  # "... to call ReceiveMessage on SQS" / "Publish on SNS"
    "cannot access stream",  # "Cannot access stream arn:... Please ensure the role can perform the
    "please ensure the role can perform",  # GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions"
    "not authorized",
)
# A KMS key or SNS topic that denies access right after its policy (or the role's) changed.
_KMS_DENIED = {"KMSAccessDeniedException", "KMSAccessDenied", "KMS.AccessDeniedException"}


def is_propagation_delay(exc: BaseException) -> bool:
    """IAM is eventually consistent: a new role may not be assumable by Lambda, nor a new policy in
    force, for seconds or minutes after it was written."""
    code, msg = error_code(exc), str(exc).lower()
    if code in _KMS_DENIED:
        return True
    if code != "InvalidParameterValueException":
        return False
    kms_denied = "kms" in msg and ("accessdenied" in msg or "access denied" in msg)
    return kms_denied or any(wording in msg for wording in _PROPAGATION_WORDINGS)


def is_conflict(exc: BaseException) -> bool:
    """Lambda rejects changes while a previous update is in progress (not: "it already exists")."""
    return error_code(exc) in {
        "ResourceConflictException",
        "ResourceInUseException",
        "TooManyRequestsException",
    } and not is_already_exists(exc)


def is_already_exists(exc: BaseException) -> bool:
    """AWS answers that the thing a create asked for exists already, in any of its wordings."""
    code = error_code(exc)
    if code.endswith(("AlreadyExists", "AlreadyExistsException")) or code in {"QueueNameExists", "EntityAlreadyExists"}:
        return True
    # Codes that also mean "busy": only their "exists" wordings count ("Table already exists: x",
    # "Function already exist", "Stage already exists", "Another resource with the same parent
    # already has this name", "The statement id (x) provided already exists").
    msg = str(exc).lower()
    # SNS: "Invalid parameter: Tags Reason: Topic already exists with different tags".
    return code in {
        "ConflictException",
        "ResourceConflictException",
        "ResourceInUseException",
        "InvalidParameter",
    } and ("already exist" in msg or "already has" in msg)


def pending_change(exc: BaseException) -> str | None:
    """wait_out's `awaiting` for calls Lambda refuses while a previous change is in progress."""
    return "the previous change to finish" if is_conflict(exc) else None


def pending_iam_or_change(exc: BaseException) -> str | None:
    """wait_out's `awaiting` for calls that use a role or a permission written moments ago."""
    return "IAM to propagate" if is_propagation_delay(exc) else pending_change(exc)
