"""CompiledCatalog gives exactly the reference engine's answers, in the same order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.workload import BENCH_NOW, GAMES, make_catalog, make_requests
from services.codecs.profile_message import profile_to_message, serving_record
from services.domain.campaign import Campaign, Catalog
from services.matching import CompiledCatalog, match_reference
from tests.matching.helpers import NOW, campaign, profile
from tests.matching.strategies import GAMES as CAMPAIGN_GAMES
from tests.matching.strategies import (
    INSTANTS,
    campaign_lists,
    catalog_of,
    clocks,
    everyone_campaigns,
    game_filters,
    odd_campaign_lists,
    profiles,
)


@given(data=st.data(), campaigns=campaign_lists, game=game_filters)
def test_compiled_equals_reference(
    data: st.DataObject, campaigns: list[Campaign], game: str | None
) -> None:
    compiled = CompiledCatalog(catalog_of(campaigns))
    # Several players and clocks per catalog: compiling is the slow part of an example.
    for _ in range(5):
        player = data.draw(profiles())
        now = data.draw(clocks(campaigns))
        expected = match_reference(player, campaigns, now, game)
        assert compiled.match(player, now, game) == expected
        # As the matcher reads a stored player: the fields of a Profile message.
        assert compiled.match(serving_record(profile_to_message(player)), now, game) == expected


@given(data=st.data(), campaigns=campaign_lists, game=st.sampled_from((*CAMPAIGN_GAMES, "unknown")))
def test_match_with_game_is_the_full_list_and_that_games_share_of_it(
    data: st.DataObject, campaigns: list[Campaign], game: str
) -> None:
    # Exact even when two games share a name (which a catalog file may not hold).
    compiled = CompiledCatalog(catalog_of(campaigns))
    for _ in range(5):
        player = data.draw(profiles())
        now = data.draw(clocks(campaigns))
        expected = (
            match_reference(player, campaigns, now),
            match_reference(player, campaigns, now, game),
        )
        assert compiled.match_with_game(player, now, game) == expected
    assert compiled.has_game(game) == any(c.game == game for c in campaigns)


@given(campaigns=everyone_campaigns, game=st.sampled_from(CAMPAIGN_GAMES))
def test_match_with_game_orders_like_reference(campaigns: list[Campaign], game: str) -> None:
    now = INSTANTS[1]
    full, filtered = CompiledCatalog(catalog_of(campaigns)).match_with_game(profile(), now, game)
    assert full == match_reference(profile(), campaigns, now)
    assert filtered == match_reference(profile(), campaigns, now, game)


@given(campaigns=everyone_campaigns, game=game_filters)
def test_compiled_orders_like_reference(campaigns: list[Campaign], game: str | None) -> None:
    now = INSTANTS[1]
    got = CompiledCatalog(catalog_of(campaigns)).match(profile(), now, game)
    assert got == match_reference(profile(), campaigns, now, game)


@given(data=st.data(), campaigns=odd_campaign_lists, game=game_filters)
def test_compiled_equals_reference_with_odd_priorities(
    data: st.DataObject, campaigns: list[Campaign], game: str | None
) -> None:
    # -0.0, infinities and NaN: outside what a catalog should hold, still one answer.
    player = data.draw(profiles())
    now = data.draw(clocks(campaigns))
    got = CompiledCatalog(catalog_of(campaigns)).match(player, now, game)
    assert got == match_reference(player, campaigns, now, game)


@settings(max_examples=50)
@given(data=st.data(), campaigns=campaign_lists)
def test_repeated_campaigns_are_all_returned(
    data: st.DataObject, campaigns: list[Campaign]
) -> None:
    # Full duplicates (same game, name and priority) should not reach the engine, but if
    # they do, both engines return each of them.
    many = campaigns * 2
    player = data.draw(profiles())
    now = data.draw(clocks(many))
    got = CompiledCatalog(catalog_of(many)).match(player, now)
    assert got == match_reference(player, many, now)


def test_compiled_equals_reference_on_realistic_workload() -> None:
    catalog = make_catalog(400, seed=7)
    compiled = CompiledCatalog(catalog)
    for request in make_requests(300, seed=7):
        for game in (request.game, None):
            assert compiled.match(request.profile, BENCH_NOW, game) == match_reference(
                request.profile, catalog.campaigns, BENCH_NOW, game
            )


def test_many_matches_take_the_dense_path() -> None:
    # Hundreds of matches out of a few hundred campaigns: read in one pass, not bit by bit.
    many = [campaign(f"c{i:03d}", priority=float(i % 7)) for i in range(300)]
    got = CompiledCatalog(catalog_of(many)).match(profile(), NOW)
    assert got == match_reference(profile(), many, NOW)
    assert len(got) == 300


def test_exposes_catalog_and_version() -> None:
    catalog = Catalog("v42", (campaign("a"),))
    compiled = CompiledCatalog(catalog)
    assert compiled.version == "v42"
    assert compiled.catalog is catalog
    assert "v42" in repr(compiled)


def test_empty_catalog() -> None:
    compiled = CompiledCatalog(Catalog("empty", ()))
    assert compiled.match(profile(level=3), NOW) == ()
    assert compiled.match(profile(level=3), NOW, "g") == ()


def test_naive_clock_is_refused_even_for_an_unknown_game() -> None:
    compiled = CompiledCatalog(Catalog("v", (campaign(),)))
    with pytest.raises(ValueError, match="timezone-aware"):
        compiled.match(profile(), NOW.replace(tzinfo=None), "nope")


def test_concurrent_readers_share_one_instance() -> None:
    catalog = make_catalog(200, seed=3)
    compiled = CompiledCatalog(catalog)
    requests = make_requests(200, seed=3)
    expected = [compiled.match(r.profile, BENCH_NOW, r.game) for r in requests]

    def answer_all(_: int) -> list[tuple[str, ...]]:
        return [compiled.match(r.profile, BENCH_NOW, r.game) for r in requests]

    with ThreadPoolExecutor(max_workers=8) as pool:
        for answers in pool.map(answer_all, range(16)):
            assert answers == expected


def test_workload_covers_every_game() -> None:
    # The differential workload test above means little if a game never shows up.
    games = {c.game for c in make_catalog(400, seed=7).campaigns}
    assert games == {game for game, _ in GAMES}
