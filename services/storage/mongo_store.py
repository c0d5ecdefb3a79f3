"""The MongoDB profile store, on pymongo's synchronous client.

One document per player in one collection, keyed by the player id: `_id` is the
player id (mongo_layout.py; mongo_documents says what a document holds and how
filters are built). Every single-player operation filters on `_id` alone, so on a
cluster sharded on `{_id: "hashed"}` each goes to one shard, and MongoDB's own
unique `_id` index makes a taken id fail `create` with no index of ours. Call
`check_layout()` once at start-up (open_store does): a collection in the previous
layout (ObjectId `_id`, unique player_id index) is refused, naming the migration
command. MongoDB stores times with millisecond precision: microseconds are truncated.

The documents are never rewritten by a read: an update sets only the fields it
names, so values other writers stored (ObjectId, Decimal128...) stay what they are.
"""

from __future__ import annotations

import logging
from collections.abc import Collection as CollectionABC
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pymongo
from bson.codec_options import DatetimeConversion
from pymongo import MongoClient, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import (
    DependencyTimeout,
    ProfileAlreadyExists,
    ProfileNotFound,
    StoredProfileCorrupt,
)
from services.domain.profile import Profile, ServingRecord
from services.domain.profile_json import stored_profile, stored_profile_or_error
from services.domain.profile_update import plan_field_update
from services.storage.arguments import checked_campaigns, checked_ids, last_per_player
from services.storage.base import AudienceCount
from services.storage.mongo_audience import (
    DEFAULT_READ_PREFERENCE,
    count_in,
    read_preference_named,
)
from services.storage.mongo_documents import (
    Document,
    by_id,
    by_ids,
    document,
    profile_fields,
    serving_record,
)
from services.storage.mongo_errors import mongo_errors
from services.storage.mongo_layout import Layout, StoreLayoutError, detect_layout

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "profilematcher"
DEFAULT_COLLECTION = "profiles"


def mongo_client(
    uri: str, *, server_selection_timeout: float = 2.0, operation_timeout: float = 2.0
) -> MongoClient[Document]:
    """The one MongoClient of a process, tuned to fail fast rather than hang.

    `operation_timeout` is the default client-side limit of every operation
    (timeoutMS), which a store call's own `timeout` replaces. Under that limit
    pymongo 4.20 waits for a usable server for the operation's remaining time, not
    for serverSelectionTimeoutMS, so a down database is reported when the
    operation's time runs out. `server_selection_timeout` still bounds each
    connection attempt (connectTimeoutMS) and any driver work outside an operation.
    Dates come back timezone-aware; one a Python datetime cannot hold (beyond year
    9999) comes back as a DatetimeMS rather than failing the whole read. Servers are
    connected to in the background (only a mongodb+srv:// URI may make its DNS lookup
    here).
    """
    selection_ms = max(1, round(server_selection_timeout * 1000))
    operation_ms = max(1, round(operation_timeout * 1000))
    return MongoClient(
        uri,
        tz_aware=True,
        datetime_conversion=DatetimeConversion.DATETIME_AUTO,
        serverSelectionTimeoutMS=selection_ms,
        connectTimeoutMS=selection_ms,
        # timeoutMS supersedes socketTimeoutMS on MongoDB 4.4+ drivers; both are set so a
        # stalled socket is abandoned even by code paths that run outside a timeout.
        socketTimeoutMS=operation_ms,
        timeoutMS=operation_ms,
        appname="profile-matcher",
    )


class MongoProfileStore:
    """ProfileStore on one MongoDB collection.

    `default_timeout` (seconds) bounds every call; a call's own `timeout` (the
    caller's remaining deadline) can only shorten it. None takes the client's
    timeoutMS (mongo_client sets it), so a long caller deadline never lets a hung
    MongoDB hold a request past the configured limit. With `owns_client`, `close()` closes the
    collection's MongoClient (open_store sets it; a shared client is left open).
    `audience_read_preference` is where audience counts read (mongo_audience.py): a
    mode's name; ValueError for an unknown one.
    """

    def __init__(
        self,
        collection: Collection[Document],
        *,
        default_timeout: float | None = None,
        owns_client: bool = False,
        audience_read_preference: str = DEFAULT_READ_PREFERENCE,
    ) -> None:
        self._audience_read_preference = read_preference_named(audience_read_preference)
        if not collection.codec_options.tz_aware:
            # profile_from_document refuses times without a zone, so a client built
            # without tz_aware=True would make every stored profile unreadable.
            collection = collection.with_options(
                codec_options=collection.codec_options.with_options(tz_aware=True)
            )
        self._collection = collection
        client = collection.database.client
        # Only a real MongoClient has options (mongomock makes any attribute a collection).
        client_timeout = client.options.timeout if isinstance(client, MongoClient) else None
        self._default_timeout = default_timeout if default_timeout is not None else client_timeout
        self._owns_client = owns_client

    @classmethod
    def from_client(
        cls,
        client: MongoClient[Document],
        database: str = DEFAULT_DATABASE,
        collection: str = DEFAULT_COLLECTION,
        *,
        default_timeout: float | None = None,
        owns_client: bool = False,
    ) -> MongoProfileStore:
        return cls(
            client[database][collection],
            default_timeout=default_timeout,
            owns_client=owns_client,
        )

    @property
    def collection(self) -> Collection[Document]:
        return self._collection

    def check_layout(self, *, timeout: float | None = None) -> None:
        """Refuses a collection in the previous layout (run at start-up, before serving).

        StoreLayoutError (a ValueError) names `profile-matcher migrate-store`. Two or
        three small reads (mongo_layout.detect_layout) under `timeout`, like any call;
        nothing is written or built. A leftover unique player_id index on a collection
        in the new layout is logged as a warning: it costs every write and stops
        sharding on `_id`.
        """
        with self._call("check the collection's layout", timeout):
            found = detect_layout(self._collection)
        name = self._collection.full_name
        if found.layout is Layout.PREVIOUS:
            raise StoreLayoutError.previous_layout(name, found.evidence)
        log.info("MongoDB: %s keys profiles by player id (%s)", name, found.evidence)
        if found.leftover_index is not None:
            log.warning(
                "MongoDB: %s still has the previous layout's unique index %r on player_id:"
                " redundant now, it costs every write and stops sharding on {_id: 'hashed'};"
                " drop it with db.%s.dropIndex(%r)",
                name,
                found.leftover_index,
                self._collection.name,
                found.leftover_index,
            )

    @contextmanager
    def _call(self, action: str, timeout: float | None) -> Iterator[None]:
        """Runs one store call under its deadline, with errors mapped to the domain's."""
        limit = (
            timeout
            if self._default_timeout is None
            else self._default_timeout
            if timeout is None
            else min(self._default_timeout, timeout)
        )
        if limit is not None and limit <= 0:
            raise DependencyTimeout(
                f"MongoDB: no time left to {action}",
                public=f"could not {action}: no time left before the deadline",
            )
        with mongo_errors(action):
            if limit is None:
                yield
            else:
                with pymongo.timeout(limit):
                    yield

    def get(self, player_id: str, *, timeout: float | None = None) -> Profile | None:
        query = by_id(player_id)
        with self._call("read a profile", timeout):
            doc = self._collection.find_one(query)
        return None if doc is None else stored_profile(profile_fields(doc))

    def get_many(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Profile | StoredProfileCorrupt]:
        keys = checked_ids(player_ids)
        if not keys:
            return {}
        with self._call("read profiles", timeout):
            docs = self._find(keys)
        found: dict[str, Profile | StoredProfileCorrupt] = {}
        for doc in docs:
            # Filed under `_id`, the id asked for (read before profile_fields takes it).
            key = str(doc.get("_id"))
            found[key] = _stored_or_error(doc)
        return found

    def _find(self, keys: list[str]) -> list[Document]:
        """The players' documents in one round trip.

        A batch that is exactly full leaves the server's cursor open (it does not look
        ahead), which would cost a getMore to learn it is empty; a limit closes the
        cursor when reached. So one id is a find_one (a single batch) and several take
        a limit; the batch size lifts the first batch's default cap of 101 documents.
        """
        if len(keys) == 1:
            doc = self._collection.find_one(by_id(keys[0]))
            return [] if doc is None else [doc]
        return list(self._collection.find(by_ids(keys), limit=len(keys), batch_size=len(keys)))

    def read_for_serving(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, ServingRecord[profile_pb2.Profile] | StoredProfileCorrupt]:
        # Documents come from other writers too, so each is validated on the way:
        # document -> Profile -> message.
        return {
            player_id: p if isinstance(p, StoredProfileCorrupt) else serving_record(p)
            for player_id, p in self.get_many(player_ids, timeout=timeout).items()
        }

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        operations = [
            UpdateOne(by_id(pid), {"$set": {"active_campaigns": checked_campaigns(pid, names)}})
            for pid, names in updates.items()
        ]
        if not operations:
            return
        with self._call("set active campaigns", timeout):
            # Unordered: one player's failure does not hold back the others. No upsert:
            # a player deleted meanwhile stays deleted.
            self._collection.bulk_write(operations, ordered=False)

    def create(self, profile: Profile, *, timeout: float | None = None) -> None:
        doc = document(profile)
        with self._call("create a profile", timeout):
            try:
                self._collection.insert_one(doc)
            except DuplicateKeyError:
                raise ProfileAlreadyExists(profile.player_id) from None

    def upsert(self, profile: Profile, *, timeout: float | None = None) -> bool:
        doc = document(profile)
        with self._call("store a profile", timeout):
            result = self._collection.replace_one(by_id(profile.player_id), doc, upsert=True)
        return result.upserted_id is not None

    def upsert_many(self, profiles: Sequence[Profile], *, timeout: float | None = None) -> int:
        """One unordered bulk write; repeated ids are reduced to their last profile first,
        so the unordered writes never race each other on the same player."""
        operations = [
            ReplaceOne(by_id(p.player_id), document(p), upsert=True)
            for p in last_per_player(profiles)
        ]
        if not operations:
            return 0
        with self._call("store profiles", timeout):
            result = self._collection.bulk_write(operations, ordered=False)
        return result.upserted_count

    def update_fields(
        self,
        player_id: str,
        values: Mapping[str, Any],
        unset: CollectionABC[str] = (),
        *,
        timeout: float | None = None,
    ) -> Profile:
        query = by_id(player_id)
        # One deadline for both round trips.
        with self._call("update a profile", timeout):
            current = self._collection.find_one(query)
            if current is None:
                raise ProfileNotFound(player_id)
            current = profile_fields(current)
            # Validated against the stored profile in memory first, so an invalid value
            # is refused with nothing written. The write itself touches only the named
            # fields, which each validate on their own, so a concurrent change to another
            # field can neither make the result invalid nor be lost.
            plan = plan_field_update(current, player_id, values, unset)
            update: Document = {}
            if plan.set_values:
                update["$set"] = plan.set_values
            if plan.unset:
                update["$unset"] = dict.fromkeys(plan.unset, "")
            if not update:
                return plan.profile
            after = self._collection.find_one_and_update(
                query, update, return_document=ReturnDocument.AFTER
            )
        if after is None:
            raise ProfileNotFound(player_id)
        return stored_profile(profile_fields(after))

    def delete(self, player_id: str, *, timeout: float | None = None) -> bool:
        query = by_id(player_id)
        with self._call("delete a profile", timeout):
            result = self._collection.delete_one(query)
        return result.deleted_count > 0

    def count_audience(
        self, query: Mapping[str, Any], *, timeout: float | None = None
    ) -> AudienceCount:
        """Counted by the server (mongo_audience.py); `timeout` is the count's own limit,
        not capped by the per-call default."""
        limit = self._default_timeout if timeout is None else timeout
        action = "count an audience"
        if limit is not None and limit <= 0:
            raise DependencyTimeout(
                f"MongoDB: no time left to {action}",
                public=f"could not {action}: no time left before the deadline",
            )
        with mongo_errors(action):
            return count_in(
                self._collection,
                query,
                limit=limit,
                read_preference=self._audience_read_preference,
            )

    def ping(self, *, timeout: float | None = None) -> None:
        with self._call("ping", timeout):
            self._collection.database.command("ping")

    def close(self) -> None:
        if self._owns_client:
            self._collection.database.client.close()

    def __repr__(self) -> str:
        return f"MongoProfileStore({self._collection.full_name})"


def _stored_or_error(doc: Document) -> Profile | StoredProfileCorrupt:
    try:
        return stored_profile_or_error(profile_fields(doc))
    except StoredProfileCorrupt as exc:
        return exc
