"""Use cases of the matcher: a player's client config, one or many, and the dry run.

No grpc here: the servicers call these and map errors; the store and the catalog
arrive through their interfaces and the clock is injected. A client config is the
player's Profile message, the API's own form, read from the store as one: the
embedded store keeps profiles in that form, so answering a player builds no domain
object, only the three fields matching reads (`match_fields`; BENCHMARKS.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import (
    DomainError,
    InvalidInput,
    ProfileNotFound,
    StoredProfileCorrupt,
)
from services.domain.profile import Profile
from services.domain.profile_json import validate_player_id
from services.domain.profile_message import match_fields
from services.matching.compiled import CompiledCatalog
from services.matching.experiments import Assignment
from services.matching.explain import Explanation, explain
from services.storage.base import ProfileStore

# Large enough for a game server's lobby, small enough that one call stays well
# inside the default 4 MiB message limit (a profile is ~1 KiB).
BATCH_LIMIT = 500


class CatalogSource(Protocol):
    def current(self, *, timeout: float | None = None) -> CompiledCatalog:
        """The catalog to match against; DependencyUnavailable if there is none."""
        ...


@dataclass(frozen=True, slots=True)
class DryRun:
    active_campaigns: tuple[str, ...]
    explanations: list[Explanation]
    catalog_version: str
    # One per active campaign, in its order.
    assignments: tuple[Assignment, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """A player's client config: the profile, and one assignment per campaign of its
    active_campaigns, in that order (computed, never stored)."""

    profile: profile_pb2.Profile
    assignments: tuple[Assignment, ...]


class ClientConfigs:
    def __init__(
        self, store: ProfileStore, catalogs: CatalogSource, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._catalogs = catalogs
        self._clock = clock

    def get(
        self, player_id: str, game: str | None, *, timeout: float | None = None
    ) -> profile_pb2.Profile:
        return self.get_config(player_id, game, timeout=timeout).profile

    def get_config(
        self, player_id: str, game: str | None, *, timeout: float | None = None
    ) -> ClientConfig:
        """The profile, as `get` answers it, with its assignments."""
        validate_player_id(player_id)
        result = self._get_checked([player_id], game, timeout)[0]
        if isinstance(result, DomainError):
            raise result
        return result

    def get_many(
        self, player_ids: Sequence[str], game: str | None, *, timeout: float | None = None
    ) -> list[profile_pb2.Profile | DomainError]:
        return [
            r if isinstance(r, DomainError) else r.profile
            for r in self.get_many_configs(player_ids, game, timeout=timeout)
        ]

    def get_many_configs(
        self, player_ids: Sequence[str], game: str | None, *, timeout: float | None = None
    ) -> list[ClientConfig | DomainError]:
        """Results in request order: the up-to-date profile, ProfileNotFound, or
        StoredProfileCorrupt (that player's record cannot be read as a profile).

        One store read for all players and one batched write for those whose full
        active_campaigns (across all games, whatever `game` narrows the answer to)
        changed; an unchanged list is never written.
        """
        _validate_batch(player_ids)
        return self._get_checked(player_ids, game, timeout)

    def _get_checked(
        self, player_ids: Sequence[str], game: str | None, timeout: float | None
    ) -> list[ClientConfig | DomainError]:
        started = time.monotonic()
        # The catalog first: if there is none, fail before touching the store.
        catalog = self._catalogs.current(timeout=timeout)
        now = self._clock()
        stored = self._store.get_many_messages(player_ids, timeout=timeout)
        changed: dict[str, tuple[str, ...]] = {}
        results: list[ClientConfig | DomainError] = []
        for player_id in player_ids:
            profile = stored.get(player_id)
            if profile is None or isinstance(profile, StoredProfileCorrupt):
                results.append(profile or ProfileNotFound(player_id))
                continue
            full, assignments = _refresh(profile, catalog, now, game)
            if full is not None:
                changed[player_id] = full
            results.append(ClientConfig(profile, assignments))
        if changed:
            # What is left of the caller's time, not all of it again.
            left = None if timeout is None else timeout - (time.monotonic() - started)
            self._store.set_active_campaigns(changed, timeout=left)
        return results

    def dry_run(
        self,
        profile: Profile,
        game: str | None,
        at: datetime | None,
        *,
        timeout: float | None = None,
    ) -> DryRun:
        catalog = self._catalogs.current(timeout=timeout)
        now = at or self._clock()
        _, answer, assignments = catalog.evaluate(profile, now, game or None)
        return DryRun(
            active_campaigns=answer,
            explanations=explain(
                profile,
                catalog.catalog.campaigns,
                now,
                game or None,
                groups=catalog.catalog.groups,
            ),
            catalog_version=catalog.version,
            assignments=assignments,
        )


def _refresh(
    profile: profile_pb2.Profile, catalog: CompiledCatalog, now: datetime, game: str | None
) -> tuple[tuple[str, ...] | None, tuple[Assignment, ...]]:
    """Sets the answer's active_campaigns; returns the full list to store if it changed,
    and the answer's assignments.

    What is stored is always the full list across all games: a `game` filter narrows
    only the answer. A game the catalog does not know (a typo, say) answers an empty
    list and is not matched at all, so it changes nothing. The message is ours to
    change: the store made it for this call.
    """
    stored = tuple(profile.active_campaigns)
    assignments: tuple[Assignment, ...] = ()
    if not game or catalog.has_game(game):
        full, answer, assignments = catalog.evaluate(match_fields(profile), now, game or None)
    else:
        full, answer = stored, ()
    if answer != stored:
        profile.active_campaigns[:] = answer
    return (None if full == stored else full), assignments


def _validate_batch(player_ids: Sequence[str]) -> None:
    if not player_ids:
        raise InvalidInput("player_ids", "must name at least one player")
    if len(player_ids) > BATCH_LIMIT:
        raise InvalidInput(
            "player_ids", f"at most {BATCH_LIMIT} players per call, got {len(player_ids)}"
        )
    seen: set[str] = set()
    for index, player_id in enumerate(player_ids):
        validate_player_id(player_id, f"player_ids[{index}]")
        if player_id in seen:
            raise InvalidInput(f"player_ids[{index}]", f"duplicate player id {player_id!r}")
        seen.add(player_id)
