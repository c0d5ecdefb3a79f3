"""Moves a profiles collection from the previous layout to the one keyed by player id.

The steps, and what is safe if the run stops at each (a rerun always picks up from
what it finds, so running the same command again is the answer to any interruption):

1. Copy: every document of `profiles` is written to `profiles_migrating` as itself
   with `_id` set to its player_id (the ObjectId `_id` is dropped; every other value is
   copied as stored), in batches read in player_id order through an index on
   player_id (the unique one; with none, the run stops before anything is made, naming
   the index to create: without one every batch would read the whole collection), and
   written as ordered bulk upserts keyed by `_id`. Ordered, so when a batch fails every
   player before the failure is written and none after; a rerun resumes after the
   largest `_id` already copied, and an upsert never makes a second copy. The copy
   does not write `profiles`, but it is no snapshot: nothing else may write it
   meanwhile (below). The other indexes of `profiles` (not `_id_`, not the unique
   player_id one) are created on the copy first, as createIndex takes them
   (mongo_index_copy.py), but for those it already has by name (made by an earlier
   run, or by hand where MongoDB refused one).
2. Verify: both collections are counted exactly; a difference (players without a
   string player_id, profiles added or deleted during the copy) stops here with
   nothing switched.
3. Switch: `profiles` is renamed to `profiles_pre_migration_<UTC time>` (the backup,
   kept until an operator drops it), then `profiles_migrating` to `profiles`; neither
   rename drops a target (dropTarget false), so nothing is ever overwritten. Between
   the two renames there is no `profiles` for a moment: a rerun sees
   `profiles_migrating` beside the backup, checks their counts, and finishes the switch.

Writes to `profiles` made during the copy to players already copied are not carried
over: stop every writer before migrating, old matchers included (a matcher writes a
player's active_campaigns whenever a GetClientConfig changes them), and imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReplaceOne
from pymongo.collection import Collection
from pymongo.database import Database

from services.storage.mongo_errors import mongo_errors
from services.storage.mongo_index_copy import (
    UncopyableIndex,
    indexes_to_copy,
    player_id_order_index,
)
from services.storage.mongo_layout import Layout, detect_layout

TARGET_SUFFIX = "_migrating"
BACKUP_INFIX = "_pre_migration_"
DEFAULT_BATCH = 1000


class MigrationRefused(Exception):
    """The collections are in a state the migration will not decide about alone: the
    message says what was found and what to check. Nothing was changed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    # "nothing to do", "migrated" or "finished the switch".
    kind: str
    message: str


class Migration:
    """One run over `database[collection]`: `run(report)` prints its progress through
    `report` and returns what it did; MigrationRefused when an operator must decide;
    the domain's DependencyUnavailable (mongo_errors) when MongoDB fails, with `phase`
    saying which step was under way."""

    def __init__(
        self,
        database: Database[Any],
        collection: str,
        *,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self._database = database
        self._name = collection
        self._target_name = collection + TARGET_SUFFIX
        self._batch = batch
        self._clock = clock
        self.phase = "look"

    def run(self, report: Callable[[str], None]) -> Outcome:
        with self._step("look", "list the collections"):
            names = set(self._database.list_collection_names())
        source = self._database[self._name]
        target = self._database[self._target_name]
        if self._name not in names:
            if self._target_name in names:
                return self._finish_switch(names, report)
            return Outcome("nothing to do", f"no collection {source.full_name}: nothing to"
                           " migrate (a new store starts in the new layout)")  # fmt: skip
        with self._step("look", "read the collection's layout"):
            found = detect_layout(source)
        if found.layout is Layout.PLAYER_ID_KEY:
            if self._target_name in names:
                raise MigrationRefused(
                    f"{source.full_name} is in the new layout, yet {target.full_name} exists"
                    " too (a switch-over interrupted, then profiles written anew?): compare"
                    " the two, keep one as profiles, and drop or rename the other by hand"
                )
            note = "" if found.leftover_index is None else (
                f"; drop its leftover index: db.{self._name}.dropIndex({found.leftover_index!r})"
            )  # fmt: skip
            return Outcome("nothing to do", f"{source.full_name} is already in the new layout"
                           f" ({found.evidence}): nothing to do{note}")  # fmt: skip
        with self._step("look", "list the indexes"):
            indexes = list(source.list_indexes())
        if player_id_order_index(indexes) is None:
            raise MigrationRefused(
                f"{source.full_name} has no index on player_id, which the copy reads the"
                " profiles in order through (without one every batch would read the whole"
                f" collection): create one, db.{self._name}.createIndex({{player_id: 1}}),"
                " then run the command again (nothing was changed)"
            )
        report(f"{source.full_name}: previous layout ({found.evidence}); copying into"
               f" {target.full_name}")  # fmt: skip
        self._copy_indexes(indexes, target, report)
        copied = self._copy(source, target, report)
        self._verify(source, target)
        backup = self._switch(source, target, report)
        return Outcome(
            "migrated",
            f"migrated {copied:,} profiles: {source.full_name} keys profiles by player id;"
            f" the previous collection is kept as {backup} (drop it once satisfied)",
        )

    @contextmanager
    def _step(self, phase: str, action: str) -> Iterator[None]:
        self.phase = phase
        with mongo_errors(action):
            yield

    def _copy_indexes(
        self,
        indexes: Sequence[Mapping[str, Any]],
        target: Collection[Any],
        report: Callable[[str], None],
    ) -> None:
        with self._step("indexes", "list the copy's indexes"):
            present = {str(index.get("name")) for index in target.list_indexes()}
        try:
            wanted = indexes_to_copy(i for i in indexes if str(i.get("name")) not in present)
        except UncopyableIndex as exc:
            raise MigrationRefused(
                f"{exc}: create it on {target.full_name} by hand under the same name, then"
                " run the command again (nothing was switched)"
            ) from None
        for copy in wanted:
            if copy.left_out:
                report(f"index {copy.name!r}: left out {', '.join(copy.left_out)}"
                       " (not an option createIndex takes)")  # fmt: skip
        if wanted:
            with self._step("indexes", "create the indexes on the copy"):
                names = target.create_indexes([copy.model for copy in wanted])
            report(f"indexes created on {target.full_name}: {', '.join(names)}")

    def _copy(
        self, source: Collection[Any], target: Collection[Any], report: Callable[[str], None]
    ) -> int:
        with self._step("copy", "count the profiles to copy"):
            total = source.count_documents({})
            last = target.find_one({}, {"_id": 1}, sort=[("_id", -1)])
            copied = 0 if last is None else target.count_documents({})
        after: str | None = None if last is None else last["_id"]
        if after is not None:
            report(f"resuming after player id {after!r}: {copied:,} already copied")
        while True:
            with self._step("copy", "copy profiles"):
                batch = self._next_batch(source, after)
                if not batch:
                    break
                target.bulk_write([_keyed_upsert(doc) for doc in batch], ordered=True)
            after = batch[-1]["player_id"]
            copied += len(batch)
            report(f"copied {copied:,}/{total:,}")
            if len(batch) < self._batch:
                break
        return copied

    def _next_batch(self, source: Collection[Any], after: str | None) -> list[dict[str, Any]]:
        # String player ids only: nothing else can be an `_id` the store looks up. A
        # document without one is left behind, and the counts then say so.
        wanted: dict[str, Any] = {"$type": "string"}
        if after is not None:
            wanted["$gt"] = after
        return list(source.find({"player_id": wanted}, sort=[("player_id", 1)], limit=self._batch))

    def _verify(self, source: Collection[Any], target: Collection[Any]) -> None:
        with self._step("verify", "count the copies"):
            have, copied = source.count_documents({}), target.count_documents({})
            if have == copied:
                return
            strays = [
                repr(doc.get("_id"))
                for doc in source.find(
                    {"player_id": {"$not": {"$type": "string"}}}, {"_id": 1}, limit=3
                )
            ]
        why = (
            f"documents without a string player_id (_id {', '.join(strays)}...)"
            if strays
            else "profiles added or deleted during the copy"
        )
        raise MigrationRefused(
            f"{source.full_name} holds {have:,} documents, {target.full_name} {copied:,}:"
            f" {why}. Nothing was switched; fix the cause (stop every writer) and run the"
            " command again to resume"
        )

    def _switch(
        self, source: Collection[Any], target: Collection[Any], report: Callable[[str], None]
    ) -> str:
        backup = f"{self._name}{BACKUP_INFIX}{self._clock().astimezone(UTC):%Y%m%dT%H%M%SZ}"
        with self._step("switch", "rename the previous collection"):
            source.rename(backup)
        report(f"{source.full_name} renamed to {backup}")
        with self._step("switch", "rename the copy"):
            target.rename(self._name)
        report(f"{target.full_name} renamed to {self._name}")
        return backup

    def _finish_switch(self, names: set[str], report: Callable[[str], None]) -> Outcome:
        """`profiles` is gone and the copy is there: the run stopped between the two
        renames, if a backup beside it holds as many documents."""
        target = self._database[self._target_name]
        backups = sorted(n for n in names if n.startswith(self._name + BACKUP_INFIX))
        if not backups:
            raise MigrationRefused(
                f"{target.full_name} exists but neither {self._name} nor a"
                f" {self._name}{BACKUP_INFIX}* backup does: it is not a copy this command"
                " can vouch for; rename it to profiles by hand if it is complete"
            )
        backup = self._database[backups[-1]]
        with self._step("switch", "count the copies"):
            have, copied = backup.count_documents({}), target.count_documents({})
        if have != copied:
            raise MigrationRefused(
                f"{backup.full_name} holds {have:,} documents, {target.full_name} {copied:,}:"
                f" rename {backup.name} back to {self._name} and run the command again"
            )
        report(f"finishing an interrupted switch-over: {copied:,} profiles, as in {backup.name}")
        with self._step("switch", "rename the copy"):
            target.rename(self._name)
        return Outcome(
            "finished the switch",
            f"{self._database[self._name].full_name} keys profiles by player id; the previous"
            f" collection is kept as {backup.name} (drop it once satisfied)",
        )


def _keyed_upsert(doc: dict[str, Any]) -> ReplaceOne[dict[str, Any]]:
    """The document keyed by its player id, every other value as stored."""
    player_id = doc["player_id"]
    keyed = {"_id": player_id, **{k: v for k, v in doc.items() if k != "_id"}}
    return ReplaceOne({"_id": player_id}, keyed, upsert=True)
