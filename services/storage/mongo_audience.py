"""The MongoDB store's audience count: the server counts, no profile leaves it.

`count_documents` runs the query as one aggregation on the server. Its time limit is
the count's own (pymongo.timeout): pymongo sends what is left of it as the command's
maxTimeMS, so the server gives up when the caller does, and the socket waits no
longer. The read preference is a setting of its own (`--audience-read-preference`), so
counts, which read the whole collection, can run on secondaries and leave the primary
to the players; a secondary may lag, so such a count can miss the latest writes.
`total` is the collection's count from its metadata (estimatedDocumentCount: no scan,
exact on a replica set after a clean shutdown); MongoDB does not say how many
documents the count examined, so `scanned` is that same total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pymongo
from pymongo.collection import Collection
from pymongo.read_preferences import ReadPreference, _ServerMode

from services.storage.base import AudienceCount

# The modes by the names MongoDB's URIs and drivers use.
READ_PREFERENCES: Final[dict[str, _ServerMode]] = {
    "primary": ReadPreference.PRIMARY,
    "primaryPreferred": ReadPreference.PRIMARY_PREFERRED,
    "secondary": ReadPreference.SECONDARY,
    "secondaryPreferred": ReadPreference.SECONDARY_PREFERRED,
    "nearest": ReadPreference.NEAREST,
}
DEFAULT_READ_PREFERENCE: Final = "primary"


def read_preference_named(name: str) -> _ServerMode:
    """The mode called `name`; ValueError naming the known ones otherwise."""
    mode = READ_PREFERENCES.get(name)
    if mode is None:
        raise ValueError(f"unknown read preference {name!r}: one of {', '.join(READ_PREFERENCES)}")
    return mode


def count_in(
    collection: Collection[Any],
    query: Mapping[str, Any],
    *,
    limit: float | None,
    read_preference: _ServerMode,
) -> AudienceCount:
    """Counts `query` in `collection` within `limit` seconds (None: the client's own
    timeoutMS); the caller maps pymongo's errors."""
    target = collection.with_options(read_preference=read_preference)
    if limit is None:
        return _count(target, query)
    with pymongo.timeout(limit):
        return _count(target, query)


def _count(collection: Collection[Any], query: Mapping[str, Any]) -> AudienceCount:
    matched = collection.count_documents(dict(query))
    total = collection.estimated_document_count()
    return AudienceCount(matched, max(total, matched), max(total, matched))
