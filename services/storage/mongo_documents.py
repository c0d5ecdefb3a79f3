"""Profiles as the MongoDB store's documents, and the filters that find them.

A stored document is profile_to_document's output (times as BSON dates) with `_id`,
MongoDB's own unique key, set to the player id (mongo_layout.py says why `player_id`
stays beside it). Every single-player filter is on `_id` alone, so a cluster sharded on
`{_id: "hashed"}` sends it to one shard. Every player id reaching a filter has been
validated as a plain string first; filters are always built here as `{"_id": <str>}`,
never taken from a caller's dict, so no operator can be smuggled in. A document read
back must have `_id` equal to its `player_id` (profile_fields), so no answer is ever
filed under another player's id.

Other writers may put BSON types JSON has no word for (ObjectId, Decimal128, dates,
Binary, Timestamp, Regex...) in custom fields. They are read as MongoDB's relaxed
Extended JSON, as bson.json_util writes it: `{"$oid": "..."}`, `{"$date":
"2021-01-10T13:37:17Z"}`, `{"$numberDecimal": "1.10"}`, a 64-bit integer as a plain
number (`readable`).
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeAlias

from bson import json_util

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import profile_to_message
from services.domain.errors import StoredProfileCorrupt
from services.domain.profile import Profile, ServingRecord
from services.domain.profile_json import profile_to_document, validate_player_id

Document: TypeAlias = dict[str, Any]


def serving_record(profile: Profile) -> ServingRecord[profile_pb2.Profile]:
    """A validated profile as a serving read hands it out: its Profile message."""
    return ServingRecord(
        profile_to_message(profile),
        profile.player_id,
        profile.level,
        profile.country,
        profile.inventory,
        profile.active_campaigns,
    )


def by_id(player_id: str) -> Document:
    """The filter that finds the player's document."""
    return {"_id": validate_player_id(player_id)}


def by_ids(player_ids: list[str]) -> Document:
    """The filter that finds the documents of `player_ids` (validated by the caller)."""
    return {"_id": {"$in": player_ids}}


def document(profile: Profile) -> Document:
    """The document to store for `profile`: keyed by its player id."""
    return {"_id": validate_player_id(profile.player_id), **profile_to_document(profile)}


def profile_fields(doc: Document) -> Document:
    """A document as read (a fresh dict, changed in place) as the profile's fields:
    `_id` taken off once it is found to be the player_id, custom values `readable`.

    StoredProfileCorrupt when they differ (a document another writer stored under
    another key), as for any other stored field that breaks the rules.
    """
    key = doc.pop("_id", None)
    if key != doc.get("player_id"):
        raise StoredProfileCorrupt(
            f"player {key!r}: its player_id {doc.get('player_id')!r} is not its _id"
        )
    return readable(doc)


_JSON_SCALARS = (str, int, bool, type(None))


def readable(doc: Document) -> Document:
    """`doc` with every custom value in relaxed Extended JSON (see the module's doc);
    the same dict when they all are plain JSON already, as the store writes them."""
    changed = {k: _json(v) for k, v in doc.items() if k[:1] == "_" and not _plain_scalar(v)}
    return {**doc, **changed} if changed else doc


def _plain_scalar(value: Any) -> bool:
    kind = type(value)
    return kind in _JSON_SCALARS or (kind is float and math.isfinite(value))


def _json(value: Any) -> Any:
    if _plain_scalar(value):
        return value
    if type(value) is dict:
        return {k: _json(v) for k, v in value.items()}
    if type(value) is list:
        return [_json(v) for v in value]
    # Int64 (a plain number), NaN, ObjectId, Decimal128, datetime, Binary, Regex...
    return json.loads(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))
