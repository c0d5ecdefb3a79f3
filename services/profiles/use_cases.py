"""ProfileService's use cases on single profiles: create, get, update, delete.

No grpc and no messages here: the servicer decodes requests into Profiles, calls
these, and answers with what they return; errors are the domain's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from services.domain.errors import ProfileNotFound, StoredProfileCorrupt
from services.domain.profile import Profile
from services.domain.profile_json import validate_player_id
from services.profiles.field_mask import changes_from_mask
from services.storage.base import ProfileStore, ServingReads

R = TypeVar("R")


def create_profile(store: ProfileStore, profile: Profile, *, timeout: float | None) -> None:
    """Stores a new profile; ProfileAlreadyExists if the player has one."""
    store.create(profile, timeout=timeout)


def get_profile(reads: ServingReads[R], player_id: str, *, timeout: float | None) -> R:
    """The player's stored profile as the store serves it, checked only as far as
    answering with it needs (the serving reads' rule, as GetClientConfig's)."""
    player_id = validate_player_id(player_id)
    served = reads.read_for_serving([player_id], timeout=timeout).get(player_id)
    if served is None:
        raise ProfileNotFound(player_id)
    if isinstance(served, StoredProfileCorrupt):
        raise served
    return served.record


def update_profile(
    store: ProfileStore, profile: Profile, mask: Iterable[str], *, timeout: float | None
) -> Profile:
    """Sets the fields `mask` names to their values in `profile` (removing those it
    leaves unset) and returns the whole profile afterwards."""
    values, unset = changes_from_mask(profile, mask)
    return store.update_fields(profile.player_id, values, unset, timeout=timeout)


def delete_profile(store: ProfileStore, player_id: str, *, timeout: float | None) -> None:
    """Removes the player's profile; ProfileNotFound if there is none."""
    player_id = validate_player_id(player_id)
    if not store.delete(player_id, timeout=timeout):
        raise ProfileNotFound(player_id)
