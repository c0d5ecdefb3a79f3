"""The matching engine for serving: the catalog compiled once into bitmask indexes.

`CompiledCatalog` is one catalog version compiled for matching: what the matcher's
`CatalogCache` holds and every request matches against. It keeps one index over the
whole catalog and one per game (compiled_index.py says how each rule is indexed), so a
filtered request works on masks no wider than that game's campaigns, while one match
of the whole catalog's index gives both a player's full list (what is stored) and one
game's share of it (what a filtered client config answers). A game sharing a group
with another is answered from the whole index: group limits count every game.

The order of decisions is the reference engine's: enabled, window and schedule, game,
the matchers and `where`, then rollout, group holdout and group limit.

Instances are never modified after construction, so any number of threads can share one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from services.domain.campaign import Campaign, Catalog
from services.domain.profile import Matchable
from services.matching.compiled_experiments import games_sharing_groups
from services.matching.compiled_index import CampaignIndex, WhereInput
from services.matching.experiments import Assignment, groups_by_name
from services.matching.reference import require_aware
from services.matching.schedule_windows import RENEW_BEFORE, schedule_windows

_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})


def _where(document: Mapping[str, Any] | None, context: Mapping[str, Any] | None) -> WhereInput:
    return document, _NO_CONTEXT if context is None else context


class CompiledCatalog:
    """One catalog version compiled into bitmask indexes for matching; build once per
    version, share freely.

    `at` (default: now) centres the horizon over which schedules are listed
    (schedule_windows.py); any other time is answered exactly too, only slower, and
    `renew_at` says when compiling again (`recompiled`) is worth it.

    Every method takes, for campaigns' `where`, the request's `context` (none: empty)
    and the profile as its `document` (a lazy view: only the fields a condition reads
    are asked for), which is needed unless the profile is a Profile.
    """

    __slots__ = (
        "_all",
        "_by_game",
        "_catalog",
        "_reads_context",
        "_renew_at",
        "_whole_catalog_games",
        "_windows",
    )

    def __init__(self, catalog: Catalog, *, at: datetime | None = None) -> None:
        self._catalog = catalog
        at = datetime.now(UTC) if at is None else at
        require_aware(at)
        groups = groups_by_name(catalog.groups)
        segments = {segment.name: segment for segment in catalog.segments if segment.name}
        self._windows = windows = schedule_windows(catalog.campaigns, at)
        self._all = CampaignIndex(catalog.campaigns, groups, windows, segments)
        games: dict[str, list[Campaign]] = {}
        for campaign in catalog.campaigns:
            games.setdefault(campaign.game, []).append(campaign)
        self._by_game = {
            game: CampaignIndex(campaigns, groups, windows, segments)
            for game, campaigns in games.items()
        }
        self._whole_catalog_games = games_sharing_groups(catalog.campaigns)
        self._reads_context = any(
            campaign.where is not None and campaign.where.uses_context
            for campaign in catalog.campaigns
        )
        self._renew_at = None if windows is None else windows.until - RENEW_BEFORE

    @property
    def version(self) -> str:
        return self._catalog.version

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def match(
        self,
        profile: Matchable,
        now: datetime,
        game: str | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> tuple[str, ...]:
        """Same answer as `match_reference(profile, catalog.campaigns, now, game, context)`."""
        require_aware(now)
        where = _where(document, context)
        if not game:
            return self._all.match(profile, now, where)
        if game in self._whole_catalog_games:
            return self._all.match_with_game(profile, now, game, where)[1]
        index = self._by_game.get(game)
        return () if index is None else index.match(profile, now, where)

    @property
    def reads_context(self) -> bool:
        """Whether some campaign's conditions read the request's context."""
        return self._reads_context

    def has_game(self, game: str) -> bool:
        """Whether any campaign of the catalog belongs to `game`."""
        return game in self._by_game

    def match_with_game(
        self,
        profile: Matchable,
        now: datetime,
        game: str,
        *,
        context: Mapping[str, Any] | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """`(match(profile, now), match(profile, now, game))`, from one match.

        The second is the first filtered by game, taken from the same mask (not looked
        up by name), so it is exact even if two games share a campaign name.
        """
        require_aware(now)
        return self._all.match_with_game(profile, now, game, _where(document, context))

    def evaluate(
        self,
        profile: Matchable,
        now: datetime,
        game: str | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Assignment, ...]]:
        """`(full, answer, assignments)`: the full list across games (what is stored),
        the answer (`game`'s share of it, or all of it) and one assignment per campaign
        of the answer. Rollouts, holdouts and variants hash `profile.player_id`."""
        require_aware(now)
        return self._all.evaluate(profile, now, game, _where(document, context))

    @property
    def renew_at(self) -> datetime | None:
        """When the schedules' horizon is near its end and a `recompiled` catalog would
        serve faster; None when no campaign has a schedule."""
        return self._renew_at

    def recompiled(self, at: datetime) -> CompiledCatalog:
        """The same catalog compiled with its horizon around `at`."""
        return CompiledCatalog(self._catalog, at=at)

    def __repr__(self) -> str:
        return (
            f"CompiledCatalog(version={self.version!r}, "
            f"campaigns={len(self._catalog.campaigns)}, games={len(self._by_game)})"
        )
