"""Bulk import of profiles: `profile-matcher import FILE`, seeding, and ImportProfiles.

The records come from an import file (`import_file`) or from a stream of Profile
messages, already decoded; each is validated and written, and one that is not a
valid profile is rejected with its index and the reason while the import carries on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from services.domain.errors import InvalidInput
from services.domain.profile import Profile
from services.domain.profile_json import profile_from_document
from services.storage.base import BatchProfileStore, ProfileStore

# (index of the record, the document, or a Profile already validated in its place,
# or None; why it is unusable, or None)
ImportRecord: TypeAlias = tuple[int, dict[str, Any] | Profile | None, str | None]


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    player_id: str | None
    reason: str


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: int = 0
    # The first `max_rejections` rejections; `rejected` counts all of them.
    rejections: list[Rejection] = field(default_factory=list)


def import_profiles(
    store: ProfileStore,
    documents: Iterable[ImportRecord],
    *,
    batch_size: int = 500,
    max_rejections: int = 1000,
    timeout: float | None = None,
) -> ImportReport:
    """Validates each document and creates or replaces its profile (a Profile given in
    place of a document was validated when it was made, so it goes in as it is).

    Invalid records are counted and listed (up to `max_rejections`, so a file of
    garbage cannot fill memory) and the rest go on. Valid profiles are written in
    batches of `batch_size` when the store can (BatchProfileStore), one by one
    otherwise. `timeout` applies to each write. A store error (DependencyUnavailable)
    ends the import and propagates; what was written stays, and importing the same
    file again is safe because every write is an upsert.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    batch: dict[str, Profile] = {}

    def flush() -> None:
        if not batch:
            return
        profiles = list(batch.values())
        batch.clear()
        if isinstance(store, BatchProfileStore):
            created = store.upsert_many(profiles, timeout=timeout)
        else:
            created = sum(store.upsert(p, timeout=timeout) for p in profiles)
        report.created += created
        report.updated += len(profiles) - created

    def reject(index: int, player_id: str | None, reason: str) -> None:
        report.rejected += 1
        if len(report.rejections) < max_rejections:
            report.rejections.append(Rejection(index, player_id, reason))

    for index, doc, error in documents:
        if doc is None:
            reject(index, None, error or "no document")
            continue
        if isinstance(doc, Profile):
            profile = doc
        else:
            raw_id = doc.get("player_id")
            try:
                profile = profile_from_document(doc)
            except InvalidInput as exc:
                reject(index, raw_id if isinstance(raw_id, str) else None, str(exc))
                continue
        if profile.player_id in batch:
            # The same player twice: write the first before the second replaces it, so
            # the counts match what a record-by-record import would report.
            flush()
        batch[profile.player_id] = profile
        if len(batch) >= batch_size:
            flush()
    flush()
    return report
