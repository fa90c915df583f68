"""moto's server app with its per-request service routing cached.

moto's DomainDispatcherApplication works out, for every request, which service a Host header
(or the credential scope) names by listing moto's package directory and stat-ing each of its
~170 entries, then trying every service's URL patterns: about half of moto's cost for a small
call such as GetQueueUrl. The answer for a host never changes while the server runs, so it is
computed once per host; hosts that name no service are not cached (nothing to keep).
"""

from __future__ import annotations

from typing import Any


def moto_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class CachedRouting(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backend_by_host: dict[str, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host is None:
                return None
            backend = self._backend_by_host.get(host)
            if backend is None:
                backend = super().get_backend_for_host(host)
                if backend:
                    self._backend_by_host[host] = backend
            return backend

    return CachedRouting()
