"""The profile store contract. One class per backend implements it.

Every method takes `timeout`: the seconds left of the caller's deadline (None:
the store's own default). A backend that cannot be reached raises
DependencyUnavailable, one that does not answer in time DependencyTimeout, and
never leaves a partial write behind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from services.domain.profile import Profile


class ProfileStore(Protocol):
    def get(self, player_id: str, *, timeout: float | None = None) -> Profile | None:
        """The stored profile, or None if there is none. Found by key, never by scan."""
        ...

    def get_many(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Profile]:
        """The stored profiles among `player_ids`, in one round trip; unknown ids are absent."""
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
