"""State in S3: one object per stack and target, locked with S3's own conditional writes.

(Filled in by the S3 backend; for now only the file store is wired.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderpoc.settings import Settings
from orderpoc.state_store import FileStore, Store

if TYPE_CHECKING:
    from orderpoc.aws import Clients


def store_for(settings: Settings, clients: Clients | None = None) -> Store:
    """The store the settings name: the file in --state-dir unless --state-url is given."""
    return FileStore(settings.state_file)
