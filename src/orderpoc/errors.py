"""Errors that reach the user as one line (exit code 2) instead of a traceback."""


class UserError(Exception):
    """Something the user can fix: bad input, missing credentials, unreachable endpoint.

    The message is shown as-is, so it should say what is wrong and what to do.
    """


class ResourceError(Exception):
    """An AWS call failed in a way retries could not fix; carries which resource failed."""

    def __init__(self, resource: str, message: str) -> None:
        super().__init__(f"{resource}: {message}")
        self.resource = resource
