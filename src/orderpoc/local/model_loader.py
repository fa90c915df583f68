"""One botocore model loader for everything moto does in this process (moto 5.2.1).

moto reads botocore's service models from several places, each with a loader of its own: every
`moto.core.utils.create_loader()` call (service models for its serializer, paginators), the
botocore session that lists regions for its backends, and the boto3 clients it makes to learn
each operation's URL. Each loader parses and keeps its own copy: after one `up` the server held
Lambda's model five times, API Gateway's, IAM's and SQS's four times, endpoints.json four times,
~67 MB of the server's memory. Here they all share one loader (moto's, with its model extras),
which parses each file once and keeps it, into plain dicts (as the CLI's loader does:
aws_session.parse_models_into_dicts).
"""

from __future__ import annotations

from typing import Any

from orderpoc.aws_session import parse_models_into_dicts

_shared: Any = None


def share() -> None:
    """Point every loader moto would create at one; once per process, before moto's first request."""
    global _shared
    if _shared is not None:
        return
    import boto3
    from moto.core import loaders, utils
    from moto.core.base_backend import AccountSpecificBackend

    shared = loaders.create_loader()
    parse_models_into_dicts(shared)
    patched: tuple[Any, ...] = (loaders, utils)  # utils imported the name
    for module in patched:
        module.create_loader = lambda: shared
    boto3.setup_default_session()
    # both boto3 sessions: the one listing regions for backends, the one moto's clients come from
    sessions: tuple[Any, ...] = (AccountSpecificBackend.get_session(), boto3.DEFAULT_SESSION)
    for session in sessions:
        session._session.register_component("data_loader", shared)
    _shared = shared
