"""The profile store's ports. One class per backend implements them all.

`ProfileStore` speaks the domain's Profile. `ServingReads` is the read model of the
calls that answer a caller with a stored profile as it is (GetClientConfig, its
batch, GetProfile): it hands out records in the backend's serving form, whatever
that is (each backend here serves the API's Profile message, which the embedded
store keeps as is), with the fields matching reads beside them.

Every method takes `timeout`: the seconds left of the caller's deadline (None:
the store's own default). A backend that cannot be reached raises
DependencyUnavailable, one that does not answer in time DependencyTimeout, and
never leaves a partial write behind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from services.domain.errors import StoredProfileCorrupt
from services.domain.profile import Profile, ServingRecord

R_co = TypeVar("R_co", covariant=True)


class ProfileStore(Protocol):
    def get(self, player_id: str, *, timeout: float | None = None) -> Profile | None:
        """The stored profile, or None if there is none. Found by key, never by scan."""
        ...

    def get_many(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Profile | StoredProfileCorrupt]:
        """The stored profiles among `player_ids`, in one round trip; unknown ids are
        absent. A stored profile that fails validation comes back as the error, in its
        own entry, so one bad record does not fail the others."""
        ...

    def create(self, profile: Profile, *, timeout: float | None = None) -> None:
        """Stores a new profile; ProfileAlreadyExists if the player id is taken."""
        ...

    def upsert(self, profile: Profile, *, timeout: float | None = None) -> bool:
        """Creates or wholly replaces the profile; True if it was created."""
        ...

    def update_fields(
        self,
        player_id: str,
        values: Mapping[str, Any],
        unset: Collection[str] = (),
        *,
        timeout: float | None = None,
    ) -> Profile:
        """Atomically sets `values` (document keys and values, as profile_to_document
        makes them) and removes the `unset` keys; returns the profile afterwards.
        ProfileNotFound if there is no such player."""
        ...

    def delete(self, player_id: str, *, timeout: float | None = None) -> bool:
        """Removes the profile; False if there was none."""
        ...

    def ping(self, *, timeout: float | None = None) -> None:
        """Returns when the backend answers; raises DependencyUnavailable otherwise."""
        ...

    def close(self) -> None: ...


class ServingReads(Protocol[R_co]):
    def read_for_serving(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> Mapping[str, ServingRecord[R_co] | StoredProfileCorrupt]:
        """The stored profiles among `player_ids` in one round trip, as records to
        answer with (each new, the caller's to change); unknown ids are absent. A
        record is checked as far as answering with it needs (each backend says how
        far); one that fails comes back as the error, in its own entry.

        As a read, it is the same operation as `get_many` (metrics name it so)."""
        ...

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        """Sets only the `active_campaigns` field of each player in one batched write.

        Other fields are not read or written, so a concurrent change to any of them
        is never lost. Players that no longer exist are skipped.
        """
        ...


class ServingStore(ProfileStore, ServingReads[R_co], Protocol[R_co]):
    """Both ports, as every backend provides them: what the matcher is given."""


@runtime_checkable
class BatchProfileStore(ProfileStore, Protocol):
    """A store that also writes many whole profiles per round trip (bulk import, seeding).

    Kept apart from ProfileStore so that wrappers and fakes of the small contract
    stay valid; callers check `isinstance(store, BatchProfileStore)` and fall back
    to `upsert` one by one.
    """

    def upsert_many(self, profiles: Sequence[Profile], *, timeout: float | None = None) -> int:
        """Creates or wholly replaces each profile, in batched writes; returns how many
        were created. When a player id repeats, the last profile given wins. Each
        profile is written atomically, the batch as a whole need not be: on an error
        some may have been written, and running the same batch again is safe."""
        ...


@dataclass(frozen=True, slots=True)
class AudienceCount:
    """What one audience count found: `matched` of the `scanned` profiles hold the
    query; `total` profiles are stored (scanned == total unless a backend counts on
    the server and reports only what it knows, see each backend)."""

    matched: int
    scanned: int
    total: int


@runtime_checkable
class AudienceCounts(Protocol):
    """Counts the stored profiles a query holds for, where the profiles are: no profile
    is handed out. Kept apart from ProfileStore so that wrappers and fakes of the small
    contract stay valid (StoreWrapper forwards it)."""

    def count_audience(
        self, query: Mapping[str, Any], *, timeout: float | None = None
    ) -> AudienceCount:
        """How many stored profiles `query` holds for: a MongoDB query document over the
        stored profile, as `Condition.to_mongo_filter` makes one (times as aware
        datetimes). `timeout` bounds the whole count (None: the store's default); it is
        the caller's to choose, not capped by the store's per-call limit, since a count
        reads every profile. DependencyTimeout when it runs out, its message saying how
        far the count got when the backend knows."""
        ...
