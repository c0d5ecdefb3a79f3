"""The matcher's dry run (MatchProfile): what a profile would match, and why.

Nothing is read or written: the profile is the caller's, matched against the
current catalog at the time the caller names (or now).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.domain.profile import JSONValue, Profile
from services.domain.request_context import validate_context
from services.matcher.client_config import CatalogSource
from services.matching.experiments import Assignment
from services.matching.explain import Explanation, explain


@dataclass(frozen=True, slots=True)
class DryRun:
    active_campaigns: tuple[str, ...]
    explanations: list[Explanation]
    catalog_version: str
    # One per active campaign, in its order.
    assignments: tuple[Assignment, ...] = ()


class MatchDryRun:
    def __init__(self, catalogs: CatalogSource, clock: Callable[[], datetime]) -> None:
        self._catalogs = catalogs
        self._clock = clock

    def run(
        self,
        profile: Profile,
        game: str | None,
        at: datetime | None,
        *,
        context: Mapping[str, JSONValue] | None = None,
        timeout: float | None = None,
    ) -> DryRun:
        """`context`: the request's, for `where` conditions."""
        checked = validate_context(context)
        catalog = self._catalogs.current(timeout=timeout)
        now = at or self._clock()
        _, answer, assignments = catalog.evaluate(profile, now, game or None, context=checked)
        return DryRun(
            active_campaigns=answer,
            explanations=explain(
                profile,
                catalog.catalog.campaigns,
                now,
                game or None,
                checked,
                groups=catalog.catalog.groups,
            ),
            catalog_version=catalog.version,
            assignments=assignments,
        )
