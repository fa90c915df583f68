"""`orderpoc list`: the stacks a state dir knows, and those the stack tag finds on a target that it
does not. Read-only; it never starts the embedded AWS (a stopped one holds nothing)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orderpoc.errors import UserError
from orderpoc.settings import TAG_KEY
from orderpoc.state import State
from orderpoc.state_store import FileStore, Store


@dataclass
class StackEntry:
    stack: str
    target: str
    region: str | None
    account: str | None
    last_applied: str | None  # when `up` last changed a resource of it (UTC)
    source: str  # "state": the state dir knows it; "tag": only found by its tag on the target
    state_file: str | None
    tagged_resources: int | None  # on the chosen target and region; None: not looked up there
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def from_state_dir(state_dir: Path) -> list[StackEntry]:
    """One entry per `{stack}.{target}.json` in the state dir, readable or not."""
    found: list[tuple[str, str, Store]] = []
    for path in sorted(Path(state_dir).glob("*.*.json")):
        if path.name.startswith("."):
            continue  # a write's temp file
        stack, target = path.name[: -len(".json")].rsplit(".", 1)
        found.append((stack, target, FileStore(path)))
    return from_stores(found)


def from_stores(stores: list[tuple[str, str, Store]]) -> list[StackEntry]:
    """One entry per (stack, target, store): a state dir's files or an S3 prefix's objects."""
    entries = []
    for stack, target, store in stores:
        try:
            data = State.load(store).data
        except UserError as exc:
            entries.append(StackEntry(stack, target, None, None, None, "state", store.url, None, f"unreadable: {exc}"))
            continue
        stamps = [str(r.get("updated_at")) for r in data.get("resources", {}).values() if r.get("updated_at")]
        entries.append(
            StackEntry(
                stack=str(data.get("stack") or stack),
                target=str(data.get("target") or target),
                region=data.get("region"),
                account=data.get("account"),
                last_applied=max(stamps) if stamps else None,
                source="state",
                state_file=store.url,
                tagged_resources=None,
                note="" if data.get("resources") else "no resources recorded",
            )
        )
    return entries


def tagged_stacks(clients: Any) -> Counter[str]:
    """Stack name -> how many resources carry its tag, as the tagging API of this region sees them."""
    counts: Counter[str] = Counter()
    pages = clients("resourcegroupstaggingapi").get_paginator("get_resources").paginate(TagFilters=[{"Key": TAG_KEY}])
    for page in pages:
        for item in page.get("ResourceTagMappingList", []):
            for tag in item.get("Tags", []):
                if tag.get("Key") == TAG_KEY:
                    counts[str(tag.get("Value"))] += 1
    return counts


def merge(
    known: list[StackEntry], tagged: Counter[str], *, target: str, region: str, account: str | None
) -> list[StackEntry]:
    """The known stacks with their tagged counts where this target was searched, then the tagged
    stacks the state dir does not know."""
    here = {e.stack for e in known if e.target == target and e.region == region and e.account in (None, account)}
    for entry in known:
        if entry.stack in here and entry.target == target:
            entry.tagged_resources = tagged.get(entry.stack, 0)
            if not entry.tagged_resources and not entry.note:
                entry.note = "nothing tagged with it here: gone, or not deployed yet"
    found = [
        StackEntry(stack, target, region, account, None, "tag", None, count, "not in this state dir")
        for stack, count in sorted(tagged.items())
        if stack not in here
    ]
    return known + found
