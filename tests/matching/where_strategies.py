"""Hypothesis strategies for catalogs whose campaigns carry `where`, and for the profiles
and contexts those conditions read.

Conditions come from a fixed pool that covers the operators, segments (nested too),
context keys, arrays, null and missing values, and the clauses the where stage
prefilters (presence of a top-level key, a string one of a set); profiles draw their
fields from small pools that sit on and beside every operand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from services.domain.campaign import Campaign
from services.domain.conditions import Condition, parse_condition, parse_segments
from services.domain.profile import Clan, Device, Profile
from tests.matching.strategies import BASE, INSTANTS, campaigns
from tests.matching.strategies import profiles as plain_profiles

SEGMENT_DOCUMENTS: dict[str, object] = {
    "spenders": {"total_spent": {"$gte": 100}},
    "lapsed": {"last_session": {"$lt": {"$ago": "14d"}}},
    # A segment using a segment.
    "veterans": {"$segment": "spenders", "level": {"$gte": 3}},
    "ios": {"context.platform": "ios"},
}
SEGMENTS = parse_segments(SEGMENT_DOCUMENTS)

# Conditions that read the profile only: MongoDB can evaluate these (to_mongo_filter).
STORE_WHERE: tuple[dict[str, Any], ...] = (
    {"total_spent": {"$gte": 100}},
    {"$segment": "lapsed"},
    {"$segment": "veterans"},
    {"_tier": {"$in": ["gold", "vip"]}},
    {"_tier": "gold"},
    {"_tier": {"$exists": True}},
    {"_tier": {"$ne": "free"}, "level": {"$lte": 5}},
    {"$or": [{"clan.id": {"$exists": True}}, {"total_transactions": {"$gte": 3}}]},
    {"devices.model": "iphone"},
    {"country": {"$in": ["US", "CA"]}},
    {"level": {"$not": {"$gt": 3}}},
    {"$nor": [{"_score": {"$lt": 0}}]},
    {"inventory.i1": {"$gte": 1}},
    {"last_session": {"$gte": {"$date": "2022-01-12T00:00:00Z"}}},
    {"_tags": {"$elemMatch": {"$in": ["a", "z"]}}},
    {"devices": {"$elemMatch": {"model": "android", "id": {"$gte": 2}}}},
    {"_score": {"$gt": 1.5}, "clan.name": {"$exists": False}},
    {},
)
# Conditions that read the request's context (and semantic versions).
CONTEXT_WHERE: tuple[dict[str, Any], ...] = (
    {"context.platform": "ios"},
    {"$segment": "ios", "_tier": "vip"},
    {"context.app_version": {"$vgte": "2.3.0"}},
    {"context.platform": {"$in": ["ios", "android"]}, "_tier": {"$ne": "free"}},
    {"context.locale": {"$ne": "fr"}, "inventory.i2": {"$gt": 0}},
    {"$or": [{"context.app_version": {"$vlt": "2"}}, {"$segment": "spenders"}]},
)


def where(document: dict[str, Any]) -> Condition:
    return parse_condition(document, segments=SEGMENTS, where="matchers.where")


@st.composite
def where_documents(draw: st.DrawFn, *, with_context: bool = True) -> dict[str, Any] | None:
    pool = STORE_WHERE + CONTEXT_WHERE if with_context else STORE_WHERE
    choice = draw(st.integers(min_value=0, max_value=9))
    if choice < 3:
        return None
    if choice < 8:
        return dict(draw(st.sampled_from(pool)))
    return {"$and": draw(st.lists(st.sampled_from(pool), min_size=2, max_size=3))}


@st.composite
def where_campaigns(draw: st.DrawFn, *, with_context: bool = True) -> Campaign:
    campaign = draw(campaigns())
    document = draw(where_documents(with_context=with_context))
    if document is None:
        return campaign
    return _replace(campaign, where=where(document))


def _replace(campaign: Campaign, **changes: Any) -> Campaign:
    fields = {name: getattr(campaign, name) for name in Campaign.__dataclass_fields__}
    fields.update(changes)
    return Campaign(**fields)


def where_catalogs(*, with_context: bool = True) -> st.SearchStrategy[list[Campaign]]:
    return st.lists(where_campaigns(with_context=with_context), max_size=12)


_TIERS = ("gold", "vip", "free", None, 3, ["gold", "x"], ["free"])
_DEVICES = (
    None,
    (Device(id=1, model="iphone"),),
    (Device(id=1, model="iphone"), Device(id=2, model="android")),
    (Device(id=3, model="android", carrier="x"),),
)


@st.composite
def target_profiles(draw: st.DrawFn) -> Profile:
    """The matching strategies' profile (level, country, inventory) with the fields the
    pooled conditions read."""
    base = draw(plain_profiles())
    custom: dict[str, Any] = {}
    if draw(st.booleans()):
        custom["_tier"] = draw(st.sampled_from(_TIERS))
    if draw(st.booleans()):
        custom["_score"] = draw(st.sampled_from((-1, 0, 1.5, 2, 7)))
    if draw(st.booleans()):
        custom["_tags"] = draw(st.sampled_from((["a", "b"], [], ["z"], "a")))
    maybe = st.booleans()
    return Profile(
        player_id="p",
        level=base.level,
        country=base.country,
        # A stored quantity is never negative.
        inventory={item: max(quantity, 0) for item, quantity in base.inventory.items()},
        total_spent=draw(st.sampled_from((0.0, 99.99, 100.0, 250.0))) if draw(maybe) else None,
        total_transactions=draw(st.integers(min_value=0, max_value=4)) if draw(maybe) else None,
        last_session=(
            BASE - timedelta(days=draw(st.sampled_from((1, 13, 14, 15, 30))))
            if draw(maybe)
            else None
        ),
        clan=draw(st.sampled_from((None, Clan(id="c1"), Clan(id="", name="n")))),
        devices=draw(st.sampled_from(_DEVICES)),
        custom_fields=custom,
    )


contexts = st.fixed_dictionaries(
    {},
    optional={
        "platform": st.sampled_from(("ios", "android", "web")),
        "app_version": st.sampled_from(("2.3.0", "2.2.9", "v3", "1.9", "2.3.0-beta")),
        "locale": st.sampled_from(("fr", "en-US")),
    },
)
clock_instants = st.sampled_from(INSTANTS[1:-1]).map(lambda t: t + timedelta(minutes=30))
