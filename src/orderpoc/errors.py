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


class EngineError(Exception):
    """Some resources failed during a walk of the graph; the rest converged. Carries each failure."""

    def __init__(self, failures: dict[str, BaseException]) -> None:
        self.failures = failures
        lines = [f"{key}: {exc}" for key, exc in failures.items()]
        super().__init__("; ".join(lines))
