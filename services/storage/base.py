"""The profile store contract. One class per backend implements it.

Every method takes `timeout`: the seconds left of the caller's deadline (None:
the store's own default). A backend that cannot be reached raises
DependencyUnavailable, one that does not answer in time DependencyTimeout, and
never leaves a partial write behind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import StoredProfileCorrupt
from services.domain.profile import Profile


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

    def get_many_messages(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, profile_pb2.Profile | StoredProfileCorrupt]:
        """`get_many` as Profile messages, the API's form, for callers that answer with
        them; each message is new and the caller's to change. The embedded store keeps
        profiles in this form and hands them out without building a domain Profile."""
        ...

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        """Sets only the `active_campaigns` field of each player in one batched write.

        Other fields are not read or written, so a concurrent change to any of them
        is never lost. Players that no longer exist are skipped.
        """
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
