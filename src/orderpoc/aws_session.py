"""The botocore session every Clients starts from, on one model loader shared by the process.

botocore, not boto3: orderpoc uses clients only, and boto3's session layer (resources, S3
transfers, and the multiprocessing machinery they import) was ~30 ms of every command's start."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import botocore.loaders
import botocore.regions
import botocore.session

_loader_lock = threading.Lock()
_shared_loader: botocore.loaders.Loader | None = None


def shared_loader() -> botocore.loaders.Loader:
    """The process's one botocore model loader (as botocore builds a session's own).

    Each botocore session otherwise parses every service's JSON model afresh: that was most of the
    CPU of a short command after the first, and of every test that builds its own Clients. A loader
    only reads files and caches what it parsed, so sharing it across sessions is safe; credentials,
    region and event hooks stay per session.
    """
    global _shared_loader
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))
            parse_models_into_dicts(_shared_loader)
            list_services_lazily(_shared_loader)
        return _shared_loader


def new_session(
    *, region_name: str | None = None, profile_name: str | None = None, credentials: dict[str, str] | None = None
) -> botocore.session.Session:
    """A botocore session on the shared loader; an unknown profile raises ProfileNotFound here,
    not at the first call. With credentials given (the local AWS), AWS_PROFILE and
    AWS_DEFAULT_PROFILE do not apply: a profile this machine lacks must not break a target that
    needs none."""
    ignore_env_profile = {"profile": (None, None, None, None)} if credentials else None
    session = botocore.session.Session(session_vars=ignore_env_profile, profile=profile_name)
    session.register_component("data_loader", shared_loader())
    if region_name:
        session.set_config_variable("region", region_name)
    if credentials:
        session.set_credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
    if not credentials:  # the profile, named or from the environment, must exist (else ProfileNotFound)
        session.get_scoped_config()
    return session


def known_regions() -> set[str]:
    """Every region botocore knows SQS in, in every partition (aws, aws-cn, aws-us-gov...), read
    from the shared loader's endpoints data: no session needed, and the clients reuse the parse."""
    resolver = botocore.regions.EndpointResolver(shared_loader().load_data("endpoints"))
    return {
        region
        for partition in resolver.get_available_partitions()
        for region in resolver.get_available_endpoints("sqs", partition)
    }


def _load_plain(full_path: str, open_method: Any) -> Any:
    """botocore's JSONFileLoader._load_file without its object_pairs_hook=OrderedDict."""
    if not os.path.isfile(full_path):
        return None
    with open_method(full_path, "rb") as fp:
        return json.loads(fp.read().decode("utf-8"))


def parse_models_into_dicts(loader: botocore.loaders.Loader) -> None:
    """The loader parses JSON models into plain dicts: botocore asks for OrderedDicts, twice the
    parse time (75 vs 37 ms for the models an `up` reads) and about twice the memory, for an
    order that dicts keep anyway; nothing in botocore, boto3 or moto uses OrderedDict's extras."""
    loader.file_loader._load_file = _load_plain


class ServicesOnDisk(Sequence[str]):
    """botocore's sorted list of the services with a model of one type, walked only if iterated.

    botocore checks each client's service against that list before loading its model, and building
    it stats every file of ~450 service directories: 10-20 ms of every command's start, more on a
    cold disk. Whether one service is in it is answered from that service's own directories."""

    def __init__(self, loader: botocore.loaders.Loader, type_name: str, walk: Callable[[str], list[str]]) -> None:
        self._loader = loader
        self._type_name = type_name
        self._walk = walk
        self._all: list[str] | None = None

    def __contains__(self, service: object) -> bool:
        if not isinstance(service, str) or not service or os.sep in service or service.startswith("."):
            return False
        for location in self._loader.search_paths:
            directory = os.path.join(location, service)
            if os.path.isdir(directory) and any(
                self._loader.file_loader.exists(os.path.join(directory, version, self._type_name))
                for version in os.listdir(directory)
            ):
                return True
        return False

    def _services(self) -> list[str]:
        if self._all is None:
            self._all = self._walk(self._type_name)
        return self._all

    def __getitem__(self, index: Any) -> Any:
        return self._services()[index]

    def __len__(self) -> int:
        return len(self._services())

    def __iter__(self) -> Iterator[str]:
        return iter(self._services())


def list_services_lazily(loader: botocore.loaders.Loader) -> None:
    """The loader's list_available_services answers with a ServicesOnDisk (same answers)."""
    walk = loader.list_available_services
    loader.list_available_services = lambda type_name: ServicesOnDisk(loader, type_name, walk)
