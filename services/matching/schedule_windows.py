"""Scheduled campaigns' live intervals over a horizon, listed once per compiled catalog.

The compiled engine's time index holds each campaign's on and off instants; a scheduled
campaign has many live intervals, so it has many of them. They are listed here, with
croniter, for a horizon around the time the catalog is compiled (HORIZON_BEHIND before
to HORIZON_AHEAD after), so that a request inside the horizon never runs croniter. A
request outside it (a dry run `at` another time, or a matcher whose catalog was not
recompiled in time) checks the scheduled campaigns one by one, which is slower and just
as exact. The matcher's CatalogCache recompiles before the horizon runs out.

A schedule that fires so often that listing its occurrences would take too long (more
than MAX_OCCURRENCES within the horizon and one duration before it) is also checked one
by one on each request: exact, and only that campaign pays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.domain.campaign import Campaign
from services.domain.schedule import live_intervals

HORIZON_BEHIND = timedelta(days=8)
HORIZON_AHEAD = timedelta(days=14)
# When less than this is left of the horizon, the catalog is worth recompiling.
RENEW_BEFORE = timedelta(days=7)
MAX_OCCURRENCES = 20_000

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ScheduleWindows:
    """Where the listed intervals are complete: [since, until)."""

    since: datetime
    until: datetime
    # id(campaign) -> its live intervals within the horizon and its own window, sorted
    # and disjoint. Keyed by identity: campaigns of one catalog may share a name.
    intervals: dict[int, tuple[Interval, ...]]
    # id(campaign) of the campaigns to check one by one even inside the horizon.
    direct: frozenset[int]

    def covers(self, now: datetime) -> bool:
        return self.since <= now < self.until


def schedule_windows(campaigns: Iterable[Campaign], at: datetime) -> ScheduleWindows | None:
    """The live intervals of the scheduled campaigns around `at`; None when no
    campaign has a schedule."""
    scheduled = [c for c in campaigns if c.schedule is not None]
    if not scheduled:
        return None
    since, until = at - HORIZON_BEHIND, at + HORIZON_AHEAD
    intervals: dict[int, tuple[Interval, ...]] = {}
    direct: set[int] = set()
    for campaign in scheduled:
        assert campaign.schedule is not None
        low, high = max(since, campaign.start_date), min(until, campaign.end_date)
        if not campaign.enabled or low >= high:
            intervals[id(campaign)] = ()
            continue
        listed, complete = live_intervals(campaign.schedule, low, high, limit=MAX_OCCURRENCES)
        if complete < high:
            direct.add(id(campaign))
            continue
        intervals[id(campaign)] = tuple(
            (max(start, low), min(end, high)) for start, end in listed if start < high and end > low
        )
    return ScheduleWindows(since, until, intervals, frozenset(direct))


def schedule_toggles(
    ordered: Sequence[Campaign], windows: ScheduleWindows | None, time_toggles: dict[datetime, int]
) -> tuple[tuple[tuple[int, Campaign], ...], tuple[tuple[int, Campaign], ...]]:
    """Adds the scheduled campaigns' listed intervals to `time_toggles`; returns the
    (bit, campaign) pairs of all scheduled campaigns (checked one by one outside the
    horizon) and of those checked so even inside it."""
    size = len(ordered)
    scheduled: list[tuple[int, Campaign]] = []
    direct: list[tuple[int, Campaign]] = []
    for rank, campaign in enumerate(ordered):
        if campaign.schedule is None:
            continue
        bit = 1 << (size - 1 - rank)
        scheduled.append((bit, campaign))
        if windows is None or id(campaign) in windows.direct:
            direct.append((bit, campaign))
            continue
        for on, off in windows.intervals.get(id(campaign), ()):
            time_toggles[on] = time_toggles.get(on, 0) ^ bit
            time_toggles[off] = time_toggles.get(off, 0) ^ bit
    return tuple(scheduled), tuple(direct)


def scheduled_live(
    windows: ScheduleWindows | None,
    scheduled: Sequence[tuple[int, Campaign]],
    direct: Sequence[tuple[int, Campaign]],
    now: datetime,
) -> int:
    """The bits of the scheduled campaigns live at `now` that the time index cannot
    tell: all of them outside the horizon, those too frequent to list inside it."""
    checked = direct if windows is not None and windows.covers(now) else scheduled
    live = 0
    for bit, campaign in checked:
        if campaign.is_live(now):
            live |= bit
    return live
