"""Which layout a MongoDB profiles collection is in, found cheaply at start-up.

The layout this version serves keys each profile by its player id: `_id` is the
player id (a string), MongoDB's own unique key, so a sharded cluster can shard on
`{_id: "hashed"}` and route every single-player operation to one shard, with
uniqueness across shards and no second index. The document keeps `player_id` too, as
a plain field equal to `_id` (no index): conditions may read `player_id`, so audience
counts filter on it where the profiles are, and other readers of the collection see
the documents they know.

The previous layout gave each document an ObjectId `_id` and found players through a
unique index on `player_id`. A collection in it must be migrated once
(`profile-matcher migrate-store`) before this version serves it: detect_layout tells
the two apart from the index list and one document; an empty collection is simply the
new layout.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.collection import Collection

MIGRATE_COMMAND = "profile-matcher migrate-store"
# The key of the previous layout's unique index.
PLAYER_ID_INDEX_KEY = {"player_id": 1}


class Layout(enum.Enum):
    # `_id` is the player id; also what an empty collection is.
    PLAYER_ID_KEY = "player id as _id"
    # ObjectId `_id` (or any `_id` other than the document's player_id) and the
    # unique player_id index.
    PREVIOUS = "ObjectId _id with a unique player_id index"


class StoreLayoutError(ValueError):
    """The collection is in the previous layout: this version cannot serve it until it is
    migrated. A ValueError, so every command reports it as it reports an unusable store
    URI (a message and exit 2)."""

    @classmethod
    def previous_layout(cls, full_name: str, evidence: str) -> StoreLayoutError:
        return cls(
            f"MongoDB collection {full_name} is in the previous layout ({evidence}); this"
            " version keys each profile by its player id (_id). Stop the old matchers and"
            f" run `{MIGRATE_COMMAND} --store <the same URI>` once, then start again"
            " (README: Scaling out)"
        )


@dataclass(frozen=True, slots=True)
class LayoutFound:
    layout: Layout
    # What showed it, for messages.
    evidence: str
    # The previous layout's unique player_id index, when a collection in the new layout
    # still has it (an empty one the previous version had indexed): redundant now, a
    # second index on every write, and one that stops `shardCollection` on
    # `{_id: "hashed"}` (a unique index must start with the shard key).
    leftover_index: str | None = None


def detect_layout(collection: Collection[Any]) -> LayoutFound:
    """The collection's layout, from cheap reads: the index list, and one document.

    A document with an ObjectId `_id` (what the previous layout stored; found through
    the `_id` index, a range of one type) means the previous layout. Otherwise, with the
    unique player_id index present, one document decides: an `_id` that is not its own
    player_id means the previous layout (written with other `_id`s), else the index is a
    leftover. An empty collection, or none at all, is simply the new layout.
    """
    index_name = next(
        (str(i.get("name")) for i in collection.list_indexes() if is_player_id_index(i)), None
    )
    if collection.find_one({"_id": {"$type": "objectId"}}, {"_id": 1}) is not None:
        evidence = "documents with an ObjectId _id"
        if index_name is not None:
            evidence += f" and a unique index {index_name!r} on player_id"
        return LayoutFound(Layout.PREVIOUS, evidence)
    if index_name is None:
        return LayoutFound(Layout.PLAYER_ID_KEY, "no ObjectId _id, no player_id index")
    sample = collection.find_one({}, {"_id": 1, "player_id": 1})
    if sample is not None and not keyed_by_player_id(sample):
        return LayoutFound(
            Layout.PREVIOUS,
            f"a unique index {index_name!r} on player_id, and a document whose _id is"
            f" {_describe(sample.get('_id'))}, not its player_id",
        )
    return LayoutFound(Layout.PLAYER_ID_KEY, "documents keyed by player id", index_name)


def keyed_by_player_id(document: Mapping[str, Any]) -> bool:
    """Whether the document's `_id` is its player id, as the new layout stores it."""
    key = document.get("_id")
    return isinstance(key, str) and key == document.get("player_id")


def is_player_id_index(index: Mapping[str, Any]) -> bool:
    """The index the previous layout made, under any name: unique on all of player_id,
    with the default (binary) string comparison."""
    return (
        dict(index.get("key", {})) == PLAYER_ID_INDEX_KEY
        and index.get("unique") is True
        and "partialFilterExpression" not in index
        and "collation" not in index
    )


def _describe(key: object) -> str:
    return "missing" if key is None else f"{key!r} ({type(key).__name__})"
