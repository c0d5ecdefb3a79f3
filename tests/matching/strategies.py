"""Hypothesis strategies for profiles, campaigns and clocks that collide on purpose.

Small alphabets everywhere (items, countries in mixed case, levels, a handful of instants)
so that generated profiles sit exactly on level bounds, hold exactly the listed items (or
hold them with quantity 0), and `now` falls exactly on window edges.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from services.domain.campaign import Campaign, Catalog, LevelRange
from services.domain.profile import Profile

GAMES = ("g1", "g2", "g3")
NAMES = ("a", "b", "c", "sale")
ITEMS = ("i1", "i2", "i3", "I1")
CAMPAIGN_COUNTRIES = ("US", "us", "Ca", "CA", "ro", "DE")
PROFILE_COUNTRIES = ("US", "us", "ca", "CA", "De", "FR")
PRIORITIES = (0.0, 1.0, 1.0, 2.5, -1.0)
# For engine-vs-engine tests only: BRIEF.md does not order these, but both engines must agree.
ODD_PRIORITIES = (*PRIORITIES, -0.0, math.inf, -math.inf, math.nan)
BASE = datetime(2022, 1, 25, tzinfo=UTC)
# Whole hours apart, so windows share edges often.
INSTANTS = tuple(BASE + timedelta(hours=h) for h in range(5))
# Same instants seen from elsewhere: the engine must compare instants, not wall clocks.
ELSEWHERE = timezone(timedelta(hours=2))
MICROSECOND = timedelta(microseconds=1)

levels = st.integers(min_value=0, max_value=5)


def _often(draw: st.DrawFn, tenths: int) -> bool:
    """True about `tenths` times in ten: keeps most campaigns live and most matchers easy,
    so that a good share of examples has several matches to order."""
    return draw(st.integers(min_value=0, max_value=9)) < tenths


@st.composite
def campaigns(draw: st.DrawFn, priorities: st.SearchStrategy[float] | None = None) -> Campaign:
    if _often(draw, 9):
        # A proper window, usually long enough to hold the middle instants.
        first = draw(st.integers(min_value=0, max_value=2))
        last = draw(st.integers(min_value=max(first + 1, 2), max_value=len(INSTANTS) - 1))
        start, end = INSTANTS[first], INSTANTS[last]
    else:
        # Anything, empty and inverted windows included; those never match.
        start, end = draw(st.sampled_from(INSTANTS)), draw(st.sampled_from(INSTANTS))
    level = None
    if _often(draw, 5):
        low = draw(levels)
        # Mostly low <= high; sometimes inverted, a range nothing satisfies.
        level = LevelRange(low, draw(levels) if _often(draw, 2) else low + draw(levels))
    return Campaign(
        game=draw(st.sampled_from(GAMES)),
        name=draw(st.sampled_from(NAMES)),
        priority=draw(priorities if priorities is not None else st.sampled_from(PRIORITIES)),
        start_date=start,
        end_date=end,
        enabled=_often(draw, 9),
        level=level,
        countries=_maybe(draw, 5, st.sampled_from(CAMPAIGN_COUNTRIES), 4),
        required_items=_maybe(draw, 4, st.sampled_from(ITEMS), 3),
        forbidden_items=_maybe(draw, 3, st.sampled_from(ITEMS), 2),
    )


def _maybe(
    draw: st.DrawFn, tenths: int, element: st.SearchStrategy[str], most: int
) -> tuple[str, ...]:
    if not _often(draw, tenths):
        return ()
    return tuple(draw(st.lists(element, min_size=1, max_size=most)))


campaign_lists = st.lists(campaigns(), max_size=12)
# Live and matching everyone, so that the whole list is in the answer and only its order
# is being tested: equal priorities, same names in several games, repeats.
everyone_campaigns = st.lists(
    st.builds(
        Campaign,
        game=st.sampled_from(GAMES),
        name=st.sampled_from(NAMES),
        priority=st.sampled_from(PRIORITIES),
        start_date=st.just(INSTANTS[0]),
        end_date=st.just(INSTANTS[-1]),
        enabled=st.just(True),
    ),
    max_size=10,
)
odd_campaign_lists = st.lists(campaigns(st.sampled_from(ODD_PRIORITIES)), max_size=12)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    return Profile(
        player_id="p",
        level=draw(st.integers(min_value=-1, max_value=7)) if _often(draw, 9) else None,
        country=draw(st.sampled_from(PROFILE_COUNTRIES)) if _often(draw, 9) else None,
        inventory=draw(
            st.dictionaries(
                st.sampled_from((*ITEMS, "cash")),
                st.integers(min_value=-1, max_value=2),
                max_size=5,
            )
        ),
    )


game_filters = st.one_of(st.none(), st.just(""), st.sampled_from((*GAMES, "unknown")))


@st.composite
def clocks(draw: st.DrawFn, campaigns: list[Campaign]) -> datetime:
    """An instant on a window edge or one microsecond beside it, or inside the middle
    windows; seen from UTC or from another zone."""
    edges = [c.start_date for c in campaigns] + [c.end_date for c in campaigns]
    if edges and _often(draw, 4):
        nudge = draw(st.sampled_from((timedelta(0), MICROSECOND, -MICROSECOND)))
        moment = draw(st.sampled_from(edges)) + nudge
    else:
        # Between two instants: inside every window that spans it.
        moment = draw(st.sampled_from(INSTANTS[1:-1])) + timedelta(minutes=30)
    return moment.astimezone(ELSEWHERE) if draw(st.booleans()) else moment


def catalog_of(campaigns: list[Campaign], version: str = "test") -> Catalog:
    return Catalog(version=version, campaigns=tuple(campaigns))
