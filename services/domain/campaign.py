"""Campaigns and the catalog they come in, as the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from services.domain.experiment import Group, JSONObject, Rollout, Variant
from services.domain.schedule import Schedule, live_at

if TYPE_CHECKING:
    # Only for annotations: the conditions package imports the domain.
    from services.domain.conditions import Condition


@dataclass(frozen=True, slots=True)
class LevelRange:
    """min <= level <= max, both inclusive."""

    min: int
    max: int


@dataclass(frozen=True, slots=True)
class Campaign:
    game: str
    name: str
    priority: float
    start_date: datetime  # inclusive
    end_date: datetime  # exclusive
    enabled: bool
    level: LevelRange | None = None
    # As written in the catalog (order and case kept so it round-trips); the
    # engine compares countries case-insensitively. Empty means no condition.
    countries: tuple[str, ...] = ()
    required_items: tuple[str, ...] = ()
    forbidden_items: tuple[str, ...] = ()
    last_updated: datetime | None = None
    # Experiments (services.domain.experiment); none of them by default.
    rollout: Rollout | None = None
    variants: tuple[Variant, ...] = ()
    # The one payload of a campaign without variants. Left out of the hash: a JSON
    # object is not hashable.
    payload: JSONObject | None = field(default=None, hash=False)
    # The name of the catalog group the campaign competes in; empty: none.
    group: str = ""
    schedule: Schedule | None = None
    # `matchers.where`: a condition on the stored profile and the request's context,
    # beside the matchers above (all must hold); None: no condition. Compared by
    # identity: two campaigns parsed apart are equal only if their documents are
    # (`where.to_document()`), which callers compare when they need to.
    where: Condition | None = None

    def is_live(self, now: datetime) -> bool:
        """Enabled, `now` within [start_date, end_date), and within one of the
        schedule's live intervals when there is a schedule."""
        return (
            self.enabled
            and self.start_date <= now < self.end_date
            and (self.schedule is None or live_at(self.schedule, now))
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """One immutable version of the campaign catalog: its campaigns and a version that
    names their content (built from the file by services.campaigns.catalog; the
    matcher receives it over the wire)."""

    version: str
    campaigns: tuple[Campaign, ...]
    # The catalog's named conditions (`Condition.name` set), in name order; the
    # campaigns' `where` conditions already hold the ones they use.
    segments: tuple[Condition, ...] = ()
    # The groups campaigns name (`Campaign.group`), in name order.
    groups: tuple[Group, ...] = ()
