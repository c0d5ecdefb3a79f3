"""Hypothesis strategies that add experiments to the rule tests' campaigns: rollouts on
the edges (0, 100, a bucket's width), variant weights with zeros, groups with tight
limits and holdouts, schedules in zones with DST, and clocks on interval edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import strategies as st

from services.domain.campaign import Campaign, Catalog
from services.domain.experiment import Group, Rollout, Variant
from services.domain.schedule import Schedule, live_intervals
from tests.matching.strategies import INSTANTS, MICROSECOND
from tests.matching.strategies import campaigns as plain_campaigns

GROUP_NAMES = ("popup", "banner")
PLAYER_IDS = ("", "p", "player-1", "player-2", "joueur-é", "🎮", "97983be2-98b7-11e7")
THRESHOLDS = (0, 1, 25_000, 50_000, 99_999, 100_000)
CRONS = ("0 * * * *", "*/20 * * * *", "30 1 * * *", "0 18 * * FRI", "0 2 * * SUN")
DURATIONS = (timedelta(minutes=20), timedelta(hours=1), timedelta(hours=54))
ZONES = ("UTC", "Europe/Paris", "America/New_York")

player_ids = st.one_of(st.sampled_from(PLAYER_IDS), st.text(max_size=12))
rollouts = st.builds(
    Rollout,
    threshold=st.one_of(st.sampled_from(THRESHOLDS), st.integers(0, 100_000)),
    salt=st.sampled_from(("", "", "custom")),
)
variant_lists = st.lists(
    st.builds(
        Variant,
        name=st.sampled_from(("control", "cheaper", "free")),
        weight=st.sampled_from((0, 1, 50, 7)),
        payload=st.one_of(st.none(), st.just({"price": 2.99}), st.just({"n": 1})),
    ),
    max_size=3,
)
schedules = st.builds(
    Schedule,
    cron=st.sampled_from(CRONS),
    duration=st.sampled_from(DURATIONS),
    timezone=st.sampled_from(ZONES),
)
# Every group a campaign names is defined, as in any catalog the campaign service serves.
groups = st.lists(
    st.builds(
        Group,
        name=st.just(""),
        max_active=st.sampled_from((0, 1, 1, 2)),
        holdout_threshold=st.sampled_from((0, 0, 0, 30_000, 100_000)),
    ),
    min_size=len(GROUP_NAMES),
    max_size=len(GROUP_NAMES),
).map(lambda drawn: [replace(g, name=n) for g, n in zip(drawn, GROUP_NAMES, strict=True)])


@st.composite
def experiment_campaigns(draw: st.DrawFn) -> Campaign:
    base = draw(plain_campaigns())
    if draw(st.booleans()):
        # For everyone: so that rollouts, groups and schedules decide, not the matchers.
        base = replace(base, level=None, countries=(), required_items=(), forbidden_items=())
    variants = draw(variant_lists)
    return replace(
        base,
        rollout=draw(st.one_of(st.none(), rollouts)),
        variants=tuple(variants),
        payload=None if variants else draw(st.one_of(st.none(), st.just({"discount": 20}))),
        group=draw(st.sampled_from(("", *GROUP_NAMES))),
        schedule=draw(st.one_of(st.none(), st.none(), st.none(), schedules)),
    )


experiment_campaign_lists = st.lists(experiment_campaigns(), min_size=1, max_size=10)


@st.composite
def schedule_clocks(draw: st.DrawFn, campaigns: list[Campaign]) -> datetime:
    """On a schedule's interval edge (or a microsecond beside it) when there is one,
    else somewhere within the campaigns' windows."""
    scheduled = [c for c in campaigns if c.schedule is not None]
    # Inside the middle windows, as the rule tests' clocks mostly are.
    moment = draw(st.sampled_from(INSTANTS[1:-1])) + timedelta(minutes=draw(st.integers(0, 59)))
    on_an_edge: bool = draw(st.booleans())
    if scheduled and on_an_edge:
        chosen = draw(st.sampled_from(scheduled))
        assert chosen.schedule is not None
        intervals, _ = live_intervals(
            chosen.schedule, chosen.start_date, chosen.end_date + timedelta(hours=1), limit=50
        )
        edges = [edge for interval in intervals for edge in interval]
        if edges:
            nudge = draw(st.sampled_from((timedelta(0), MICROSECOND, -MICROSECOND)))
            moment = draw(st.sampled_from(edges)) + nudge
    return moment


def catalog_with(campaigns: list[Campaign], group_list: list[Group]) -> Catalog:
    return Catalog("test", tuple(campaigns), groups=tuple(group_list))
