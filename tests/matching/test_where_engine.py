"""Campaigns with `where`, at the engine level: the reference engine (clause by clause),
the compiled engine (where stage: prefilters and compiled predicates, over a domain
Profile and over the stored message's lazy view), explanations, and MongoDB's own
evaluation (mongomock) of each campaign's matchers and `where` as one filter, agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import mongomock
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.codecs.profile_message import profile_from_message, profile_to_message
from services.codecs.profile_message import serving_record as serving_record_of
from services.codecs.profile_view import MessageView
from services.domain.campaign import Campaign, Catalog
from services.domain.conditions import legacy_matchers_condition
from services.domain.profile import Clan, Profile
from services.domain.profile_json import profile_to_document
from services.matching import CompiledCatalog, Outcome, explain, match_reference
from services.matching.reference import considered, in_window
from tests.matching.helpers import NOW, campaign
from tests.matching.strategies import game_filters
from tests.matching.where_strategies import (
    clock_instants,
    contexts,
    target_profiles,
    where,
    where_catalogs,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _served(player: Profile) -> Profile:
    """The profile as serving sees it: through the stored message and back."""
    return profile_from_message(profile_to_message(player))


@SETTINGS
@given(
    where_catalogs(),
    st.lists(target_profiles(), min_size=1, max_size=4),
    contexts,
    clock_instants,
    game_filters,
)
def test_compiled_agrees_with_reference(
    campaigns: list[Campaign],
    players: list[Profile],
    context: dict[str, Any],
    now: datetime,
    game: str | None,
) -> None:
    compiled = CompiledCatalog(Catalog("t", tuple(campaigns)))
    for player in map(_served, players):
        expected = match_reference(player, campaigns, now, game, context)
        assert compiled.match(player, now, game, context=context) == expected
        message = profile_to_message(player)
        record = serving_record_of(message)
        got = compiled.match(record, now, game, context=context, document=MessageView(message))
        assert got == expected
        if game:
            full, filtered = compiled.match_with_game(
                record, now, game, context=context, document=MessageView(message)
            )
            assert (full, filtered) == (
                match_reference(player, campaigns, now, None, context),
                expected,
            )


@SETTINGS
@given(where_catalogs(), target_profiles(), contexts, clock_instants)
def test_explanations_agree_with_reference(
    campaigns: list[Campaign], player: Profile, context: dict[str, Any], now: datetime
) -> None:
    for explanation, c in zip(
        explain(player, campaigns, now, None, context), campaigns, strict=True
    ):
        matched = match_reference(player, [c], now, None, context) == (c.name,)
        assert (explanation.outcome is Outcome.MATCHED) == matched
        if explanation.matcher == "where":
            assert explanation.clause is not None
            assert c.where is not None
            assert not c.where.evaluate(profile_to_document(player), context, now)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where_catalogs(with_context=False),
    st.lists(target_profiles(), min_size=1, max_size=6),
    clock_instants,
)
def test_mongodb_finds_the_players_each_campaign_matches(
    campaigns: list[Campaign], players: list[Profile], now: datetime
) -> None:
    store: Any = mongomock.MongoClient().db.profiles
    docs = [{**profile_to_document(p), "player_id": str(i)} for i, p in enumerate(players)]
    store.insert_many(docs)
    answers = [set(match_reference(p, campaigns, now)) for p in players]
    for c in campaigns:
        if not (considered(c, None) and in_window(c, now)):
            continue
        clauses = [_matchers_filter(c, now)]
        if c.where is not None:
            translated = c.where.to_mongo_filter(now)
            assert not translated.unevaluable
            clauses.append(translated.filter)
        found = {d["player_id"] for d in store.find({"$and": clauses}, {"player_id": 1})}
        names_match = [c.name in answer for answer in answers]
        # Names repeat across games; a name in an answer may be another campaign's.
        if sum(1 for other in campaigns if other.name == c.name) == 1:
            assert found == {str(i) for i, hit in enumerate(names_match) if hit}, c


def _matchers_filter(c: Campaign, now: datetime) -> dict[str, Any]:
    level = c.level
    condition = legacy_matchers_condition(
        None if level is None else level.min,
        None if level is None else level.max,
        c.countries,
        c.required_items,
        c.forbidden_items,
    )
    return condition.to_mongo_filter(now).filter


# The where stage's prefilters decide for many campaigns at once; these pin the cases
# where a shortcut would be wrong.
@pytest.mark.parametrize(
    ("document", "player", "context", "matches"),
    [
        # Presence: a null value is there ($exists holds), only an absent key is not.
        ({"_tier": {"$exists": True}}, {"custom_fields": {"_tier": None}}, {}, True),
        ({"_tier": {"$exists": True}}, {}, {}, False),
        ({"clan.id": {"$exists": True}}, {"clan": Clan(id="")}, {}, True),
        ({"context.platform": {"$exists": True}}, {}, {"platform": None}, True),
        ({"context.platform": {"$exists": True}}, {}, {}, False),
        # Strings: an array holds the string among its elements; case matters.
        ({"_tier": "gold"}, {"custom_fields": {"_tier": ["x", "gold"]}}, {}, True),
        ({"_tier": {"$in": ["gold", "vip"]}}, {"custom_fields": {"_tier": "vip"}}, {}, True),
        ({"_tier": {"$in": ["gold", "vip"]}}, {"custom_fields": {"_tier": "VIP"}}, {}, False),
        ({"country": "US"}, {"country": "us"}, {}, False),
        ({"context.platform": "ios"}, {}, {"platform": ["android", "ios"]}, True),
        ({"context.platform": "ios"}, {}, {"platform": "android"}, False),
        # Only under $or: not a required string, so no prefilter applies.
        ({"$or": [{"_tier": "gold"}, {"level": 3}]}, {"level": 3}, {}, True),
        (
            {"$segment": "ios", "_tier": "vip"},
            {"custom_fields": {"_tier": "vip"}},
            {"platform": "ios"},
            True,
        ),
    ],
)
def test_prefilters_keep_mongodb_semantics(
    document: dict[str, Any], player: dict[str, Any], context: dict[str, Any], matches: bool
) -> None:
    campaigns = [campaign("w", where=where(document)), campaign("plain")]
    profile = Profile(player_id="p", **player)
    want = ("plain", "w") if matches else ("plain",)
    assert match_reference(profile, campaigns, NOW, None, context) == tuple(sorted(want))
    compiled = CompiledCatalog(Catalog("t", tuple(campaigns)))
    assert compiled.match(profile, NOW, context=context) == tuple(sorted(want))
    message = profile_to_message(profile)
    got = compiled.match(
        serving_record_of(message), NOW, context=context, document=MessageView(message)
    )
    assert got == tuple(sorted(want))


def test_a_record_without_its_document_is_refused_when_a_where_must_run() -> None:
    compiled = CompiledCatalog(Catalog("t", (campaign("w", where=where({"level": 1})),)))
    record = serving_record_of(profile_to_message(Profile(player_id="p", level=1)))
    with pytest.raises(TypeError, match="document"):
        compiled.match(record, NOW)


def test_campaigns_without_where_never_read_the_document() -> None:
    class Untouchable(dict[str, Any]):
        def get(self, *args: Any) -> Any:
            raise AssertionError("read")

    compiled = CompiledCatalog(
        Catalog(
            "t",
            (
                campaign("plain"),
                campaign("w", where=where({"level": 1}), level=None, countries=("RO",)),
            ),
        )
    )
    record = serving_record_of(profile_to_message(Profile(player_id="p", country="US")))
    assert compiled.match(record, NOW, document=Untouchable()) == ("plain",)


def test_a_custom_field_is_not_read_once_the_context_failed_every_campaign() -> None:
    # Cheap reads first: the context's conjunct fails the one candidate, so the custom
    # field's string test, costlier to read from a stored profile, never runs.
    read: list[str] = []

    class Recording(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            read.append(key)
            return super().get(key, default)

    compiled = CompiledCatalog(
        Catalog(
            "t",
            (
                campaign("plain"),
                campaign(
                    "w",
                    where=where({"_tier": {"$in": ["gold", "vip"]}, "context.platform": "ios"}),
                ),
            ),
        )
    )
    record = serving_record_of(profile_to_message(Profile(player_id="p")))
    document = Recording(_tier="gold")
    assert compiled.match(record, NOW, document=document) == ("plain",)
    assert read == []
    assert compiled.match(record, NOW, context={"platform": "ios"}, document=document) == (
        "plain",
        "w",
    )
    assert read == ["_tier"]
