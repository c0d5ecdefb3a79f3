"""The matcher's audience use case: how many stored players a campaign reaches.

A campaign's profile conditions are its matchers (`level`, `has`, `does_not_have`, as
one condition: `legacy_matchers_condition`) AND its `where`. They become one MongoDB
query at the instant counted (`Condition.to_mongo_filter`), which the store counts
where the profiles are (AudienceCounts). Clauses a store cannot evaluate, those on the
request's `context.` above all (no request is being answered), are left out of the
query conservatively: the count is then of a wider query, an upper bound, and the
clauses are reported (`unevaluable`), never guessed. Whether the campaign is live
(enabled, inside its window) is reported beside the count and does not change it.

No grpc and no messages here; a draft campaign arrives decoded (the servicer decodes
it against the catalog's segments, through the `decode` it passes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.domain.campaign import Campaign, Catalog
from services.domain.conditions import ConditionError, MongoFilter, legacy_matchers_condition
from services.domain.errors import CampaignNotFound, InvalidInput, Overloaded
from services.matcher.client_config import CatalogSource
from services.storage.base import AudienceCounts

# The longest a count may take when the caller's deadline allows longer (or is unset):
# a scan reads every profile, so counts get a limit of their own, above a read's.
DEFAULT_AUDIENCE_TIMEOUT = 60.0
# Counts at once per matcher process: each one reads every profile, so a few callers
# asking at once could otherwise take every thread of the server (and the store's
# capacity) from the calls game servers make.
DEFAULT_MAX_AUDIENCE_COUNTS = 2


@dataclass(frozen=True, slots=True)
class AudienceQuery:
    """A campaign's profile conditions as one store query at one instant."""

    query: dict[str, Any]
    # Where each clause left out of `query` is written, in document order.
    unevaluable: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AudienceEstimate:
    matched: int
    scanned: int
    total: int
    unevaluable: tuple[str, ...]
    live: bool
    catalog_version: str
    at: datetime


def audience_query(campaign: Campaign, at: datetime, *, where: str = "matchers") -> AudienceQuery:
    """The campaign's matchers AND its `where`, as one query at `at`.

    InvalidInput (field `<where>.has.country[i]`) for a country no condition can hold
    (see legacy_matchers_condition)."""
    level = campaign.level
    try:
        matchers = legacy_matchers_condition(
            level.min if level else None,
            level.max if level else None,
            campaign.countries,
            campaign.required_items,
            campaign.forbidden_items,
        )
    except ConditionError as exc:
        raise InvalidInput(where + exc.clause.removeprefix("matchers"), exc.problem) from None
    parts: list[MongoFilter] = [matchers.to_mongo_filter(at)]
    if campaign.where is not None:
        parts.append(campaign.where.to_mongo_filter(at))
    filters = [part.filter for part in parts if part.filter]
    query: dict[str, Any] = (
        {} if not filters else filters[0] if len(filters) == 1 else {"$and": filters}
    )
    return AudienceQuery(query, tuple(clause for part in parts for clause in part.unevaluable))


class EstimateAudience:
    """EstimateAudience: a catalog campaign's or a draft's audience, counted by the store.

    `timeout` is the ceiling of every count; a caller's shorter deadline shortens it.
    At most `max_concurrent` counts run at once; one more is refused (Overloaded) at
    once rather than queued, as its caller can retry and a queue would only hold it.
    """

    def __init__(
        self,
        counts: AudienceCounts,
        catalogs: CatalogSource,
        clock: Callable[[], datetime],
        *,
        timeout: float = DEFAULT_AUDIENCE_TIMEOUT,
        max_concurrent: int = DEFAULT_MAX_AUDIENCE_COUNTS,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self._counts = counts
        self._catalogs = catalogs
        self._clock = clock
        self._timeout = timeout
        self._max_concurrent = max_concurrent
        self._running = threading.BoundedSemaphore(max_concurrent)

    def of_catalog_campaign(
        self, game: str, name: str, at: datetime | None, *, timeout: float | None = None
    ) -> AudienceEstimate:
        """CampaignNotFound when the current catalog has no campaign `name` in `game`."""
        if not game:
            raise InvalidInput("catalog_campaign.game", "must name the campaign's game")
        if not name:
            raise InvalidInput("catalog_campaign.name", "must name the campaign")
        catalog = self._catalogs.current(timeout=timeout)
        for campaign in catalog.catalog.campaigns:
            if campaign.game == game and campaign.name == name:
                return self._count(campaign, catalog.version, at, "matchers", timeout)
        raise CampaignNotFound(game, name)

    def of_draft(
        self,
        decode: Callable[[Catalog], Campaign],
        at: datetime | None,
        *,
        timeout: float | None = None,
    ) -> AudienceEstimate:
        """`decode` makes the draft from the current catalog (its segments), raising
        InvalidInput naming the draft's bad field or clause."""
        catalog = self._catalogs.current(timeout=timeout)
        campaign = decode(catalog.catalog)
        return self._count(campaign, catalog.version, at, "draft.matchers", timeout)

    def _count(
        self,
        campaign: Campaign,
        version: str,
        at: datetime | None,
        where: str,
        timeout: float | None,
    ) -> AudienceEstimate:
        now = at or self._clock()
        query = audience_query(campaign, now, where=where)
        limit = self._timeout if timeout is None else min(self._timeout, timeout)
        if not self._running.acquire(blocking=False):
            raise Overloaded(
                f"{self._max_concurrent} audience counts are already running, this"
                " matcher's limit (--max-audience-counts); retry later"
            )
        try:
            count = self._counts.count_audience(query.query, timeout=limit)
        finally:
            self._running.release()
        return AudienceEstimate(
            matched=count.matched,
            scanned=count.scanned,
            total=count.total,
            unevaluable=query.unevaluable,
            live=campaign.is_live(now),
            catalog_version=version,
            at=now,
        )
