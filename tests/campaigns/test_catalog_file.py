"""The catalog file codec: the users' format accepted verbatim, every problem reported."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.campaigns.campaign_validation import campaign_from_document
from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_file, parse_catalog
from services.campaigns.catalog_writer import campaign_to_document, catalog_to_json
from services.campaigns.errors import CatalogError
from services.domain.campaign import Campaign, LevelRange
from services.transport.campaign_messages import campaign_from_message, campaign_to_message
from tests.conftest import TEST_DATA

Doc = dict[str, Any]
SOURCE = "catalog.json"
PREFIX = f"{SOURCE}: campaign #2 "


def _set(doc: Doc, path: str, value: object) -> None:
    *parents, last = path.split(".")
    for key in parents:
        doc = doc[key]
    doc[last] = value


def _drop(doc: Doc, path: str) -> None:
    *parents, last = path.split(".")
    for key in parents:
        doc = doc[key]
    del doc[last]


def _problems_of_second(first: Doc, second: Doc) -> list[str]:
    """The problems of a two-campaign file whose second campaign is under test."""
    with pytest.raises(CatalogError) as info:
        parse_catalog(json.dumps([first, second]), SOURCE)
    return info.value.problems


# ---- the sample, verbatim ----


def test_sample_campaign_is_read_as_written(sample_campaign_doc: Doc) -> None:
    campaign = campaign_from_document(sample_campaign_doc)

    assert campaign == Campaign(
        game="mygame",
        name="mycampaign",
        priority=10.5,
        start_date=datetime(2022, 1, 25, tzinfo=UTC),
        end_date=datetime(2022, 2, 25, tzinfo=UTC),
        enabled=True,
        level=LevelRange(1, 3),
        countries=("US", "RO", "CA"),
        required_items=("item_1",),
        forbidden_items=("item_4",),
        last_updated=datetime(2021, 7, 13, 11, 46, 58, tzinfo=UTC),
    )


def test_sample_round_trips_through_messages_unchanged(sample_campaign_doc: Doc) -> None:
    original = copy.deepcopy(sample_campaign_doc)

    campaign = campaign_from_document(sample_campaign_doc)
    back = campaign_to_document(campaign_from_message(campaign_to_message(campaign)))

    assert back == original
    # Same key order too, so a rewritten file reads like the one users wrote.
    assert json.dumps(back, indent=4) == json.dumps(original, indent=4)


def test_sample_file_is_accepted_as_a_single_campaign_object() -> None:
    (campaign,) = load_catalog_file(TEST_DATA / "campaign.json")

    assert campaign.name == "mycampaign"


def test_countries_and_items_keep_order_and_case(campaign_doc: Callable[..., Doc]) -> None:
    doc = campaign_doc()
    doc["matchers"]["has"] = {"country": ["ro", "US", "Ca"], "items": ["b", "A"]}
    doc["matchers"]["does_not_have"] = {"items": ["z", "Y"]}

    campaign = campaign_from_document(doc)

    assert campaign.countries == ("ro", "US", "Ca")
    assert campaign.required_items == ("b", "A")
    assert campaign.forbidden_items == ("z", "Y")


def test_document_has_only_the_matchers_present(campaign_doc: Callable[..., Doc]) -> None:
    doc = campaign_doc(matchers={"has": {"items": ["sword"]}})
    del doc["last_updated"]

    out = campaign_to_document(campaign_from_document(doc))

    assert out["matchers"] == {"has": {"items": ["sword"]}}
    assert list(out) == [
        "game",
        "name",
        "priority",
        "matchers",
        "start_date",
        "end_date",
        "enabled",
    ]


def test_catalog_to_json_reads_back(catalog_docs: list[Doc]) -> None:
    campaigns = parse_catalog(json.dumps(catalog_docs), SOURCE)

    assert parse_catalog(catalog_to_json(campaigns), SOURCE) == campaigns


# ---- what is accepted ----


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2022-01-25 00:00:00Z", datetime(2022, 1, 25, tzinfo=UTC)),
        ("2022-01-25T00:00:00Z", datetime(2022, 1, 25, tzinfo=UTC)),
        ("2022-01-25T02:00:00+02:00", datetime(2022, 1, 25, tzinfo=UTC)),
        ("2022-01-25T00:00:00.250Z", datetime(2022, 1, 25, 0, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_times_in_sample_style_and_rfc3339(
    campaign_doc: Callable[..., Doc], written: str, expected: datetime
) -> None:
    assert campaign_from_document(campaign_doc(start_date=written)).start_date == expected


def test_optional_fields_may_be_absent_or_null(campaign_doc: Callable[..., Doc]) -> None:
    absent = campaign_doc(matchers={})
    del absent["last_updated"]
    null = campaign_doc(
        matchers={"level": None, "has": {"country": None, "items": None}, "does_not_have": None},
        last_updated=None,
    )

    for doc in (absent, null):
        campaign = campaign_from_document(doc)
        assert campaign.level is None
        assert campaign.countries == campaign.required_items == campaign.forbidden_items == ()
        assert campaign.last_updated is None


def test_whole_numbers_written_as_floats_are_levels(campaign_doc: Callable[..., Doc]) -> None:
    doc = campaign_doc(priority=3)
    doc["matchers"]["level"] = {"min": 1.0, "max": 3.0}

    campaign = campaign_from_document(doc)

    assert campaign.level == LevelRange(1, 3)
    assert campaign.priority == 3.0


def test_an_empty_list_is_an_empty_catalog() -> None:
    assert parse_catalog("[]", SOURCE) == ()


# ---- every validation rule, with its exact message ----

RULES: list[tuple[str, Callable[[Doc], None], str]] = [
    ("missing game", lambda d: _drop(d, "game"), "'mycampaign': game: is required"),
    ("missing name", lambda d: _drop(d, "name"), "(no name): name: is required"),
    ("missing priority", lambda d: _drop(d, "priority"), "'mycampaign': priority: is required"),
    ("missing matchers", lambda d: _drop(d, "matchers"), "'mycampaign': matchers: is required"),
    (
        "missing start_date",
        lambda d: _drop(d, "start_date"),
        "'mycampaign': start_date: is required",
    ),
    ("missing end_date", lambda d: _drop(d, "end_date"), "'mycampaign': end_date: is required"),
    ("missing enabled", lambda d: _drop(d, "enabled"), "'mycampaign': enabled: is required"),
    (
        "unknown top-level field",
        lambda d: _set(d, "colour", "red"),
        "'mycampaign': colour: unknown field (expected one of: game, name, priority, "
        "matchers, start_date, end_date, enabled, last_updated, rollout, variants, payload, "
        "group, schedule)",
    ),
    (
        "unknown matcher",
        lambda d: _set(d, "matchers.age", {}),
        "'mycampaign': matchers.age: unknown field"
        " (expected one of: level, has, does_not_have, where)",
    ),
    (
        "unknown level field",
        lambda d: _set(d, "matchers.level.avg", 2),
        "'mycampaign': matchers.level.avg: unknown field (expected one of: min, max)",
    ),
    (
        "unknown has field",
        lambda d: _set(d, "matchers.has.countries", ["US"]),
        "'mycampaign': matchers.has.countries: unknown field (expected one of: country, items)",
    ),
    (
        "unknown does_not_have field",
        lambda d: _set(d, "matchers.does_not_have.country", ["US"]),
        "'mycampaign': matchers.does_not_have.country: unknown field (expected one of: items)",
    ),
    (
        "game not a string",
        lambda d: _set(d, "game", 5),
        "'mycampaign': game: must be a string, got a number",
    ),
    ("name null", lambda d: _set(d, "name", None), "(no name): name: must be a string, got null"),
    ("empty name", lambda d: _set(d, "name", ""), "(no name): name: must not be empty"),
    ("blank game", lambda d: _set(d, "game", "  "), "'mycampaign': game: must not be empty"),
    (
        "priority a string",
        lambda d: _set(d, "priority", "high"),
        "'mycampaign': priority: must be a number, got a string",
    ),
    (
        "priority a boolean",
        lambda d: _set(d, "priority", True),
        "'mycampaign': priority: must be a number, got a boolean",
    ),
    (
        "priority infinite",
        lambda d: _set(d, "priority", float("inf")),
        "'mycampaign': priority: must be a finite number, got inf",
    ),
    (
        "enabled a string",
        lambda d: _set(d, "enabled", "yes"),
        "'mycampaign': enabled: must be true or false, got a string",
    ),
    (
        "enabled a number",
        lambda d: _set(d, "enabled", 1),
        "'mycampaign': enabled: must be true or false, got a number",
    ),
    (
        "matchers a list",
        lambda d: _set(d, "matchers", []),
        "'mycampaign': matchers: must be an object, got a list",
    ),
    (
        "level a number",
        lambda d: _set(d, "matchers.level", 3),
        "'mycampaign': matchers.level: must be an object, got a number",
    ),
    (
        "level min a fraction",
        lambda d: _set(d, "matchers.level.min", 1.5),
        "'mycampaign': matchers.level.min: must be a whole number, got 1.5",
    ),
    (
        "level max a boolean",
        lambda d: _set(d, "matchers.level.max", True),
        "'mycampaign': matchers.level.max: must be a whole number, got a boolean",
    ),
    (
        "level min a string",
        lambda d: _set(d, "matchers.level.min", "1"),
        "'mycampaign': matchers.level.min: must be a whole number, got a string",
    ),
    (
        "level max beyond int64",
        lambda d: _set(d, "matchers.level.max", 2**63),
        "'mycampaign': matchers.level.max: is out of the 64-bit range, got 9223372036854775808",
    ),
    (
        "level without max",
        lambda d: _drop(d, "matchers.level.max"),
        "'mycampaign': matchers.level.max: is required",
    ),
    (
        "level min above max",
        lambda d: _set(d, "matchers.level", {"min": 5, "max": 3}),
        "'mycampaign': matchers.level: min 5 is greater than max 3",
    ),
    (
        "negative level min",
        lambda d: _set(d, "matchers.level.min", -1),
        "'mycampaign': matchers.level.min: must not be negative, got -1",
    ),
    (
        "negative level max",
        lambda d: _set(d, "matchers.level", {"min": 0, "max": -2}),
        "'mycampaign': matchers.level.max: must not be negative, got -2",
    ),
    (
        "has a list",
        lambda d: _set(d, "matchers.has", ["US"]),
        "'mycampaign': matchers.has: must be an object, got a list",
    ),
    (
        "country a string",
        lambda d: _set(d, "matchers.has.country", "US"),
        "'mycampaign': matchers.has.country: must be a list of strings, got a string",
    ),
    (
        "empty country",
        lambda d: _set(d, "matchers.has.country", ["US", ""]),
        "'mycampaign': matchers.has.country[1]: must not be empty",
    ),
    (
        "item not a string",
        lambda d: _set(d, "matchers.has.items", [1]),
        "'mycampaign': matchers.has.items[0]: must be a string, got a number",
    ),
    (
        "does_not_have items a string",
        lambda d: _set(d, "matchers.does_not_have.items", "item_4"),
        "'mycampaign': matchers.does_not_have.items: must be a list of strings, got a string",
    ),
    (
        "empty forbidden item",
        lambda d: _set(d, "matchers.does_not_have.items", [" "]),
        "'mycampaign': matchers.does_not_have.items[0]: must not be empty",
    ),
    (
        "unparseable start_date",
        lambda d: _set(d, "start_date", "tomorrow"),
        "'mycampaign': start_date: 'tomorrow' is not a timestamp like "
        "'2022-01-25 00:00:00Z' or RFC 3339",
    ),
    (
        "end_date without zone",
        lambda d: _set(d, "end_date", "2022-02-25 00:00:00"),
        "'mycampaign': end_date: '2022-02-25 00:00:00' has no time zone (add 'Z' for UTC)",
    ),
    (
        "start_date a number",
        lambda d: _set(d, "start_date", 1643068800),
        "'mycampaign': start_date: must be a timestamp string, got a number",
    ),
    (
        "unparseable last_updated",
        lambda d: _set(d, "last_updated", "yesterday"),
        "'mycampaign': last_updated: 'yesterday' is not a timestamp like "
        "'2022-01-25 00:00:00Z' or RFC 3339",
    ),
    (
        "end_date equal to start_date",
        lambda d: _set(d, "end_date", "2022-01-25T00:00:00Z"),
        "'mycampaign': end_date: 2022-01-25 00:00:00Z is not after start_date 2022-01-25 00:00:00Z",
    ),
    (
        "end_date before start_date",
        lambda d: _set(d, "end_date", "2022-01-24 23:59:59Z"),
        "'mycampaign': end_date: 2022-01-24 23:59:59Z is not after start_date 2022-01-25 00:00:00Z",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_validation_rule_message(
    sample_campaign_doc: Doc, mutate: Callable[[Doc], None], expected: str
) -> None:
    first = copy.deepcopy(sample_campaign_doc)
    first["name"] = "first"
    mutate(sample_campaign_doc)

    assert _problems_of_second(first, sample_campaign_doc) == [PREFIX + expected]


@pytest.mark.parametrize(("literal", "shown"), [("NaN", "nan"), ("-Infinity", "-inf")])
def test_non_finite_priority_in_file_text(
    sample_campaign_doc: Doc, literal: str, shown: str
) -> None:
    text = json.dumps([sample_campaign_doc]).replace('"priority": 10.5', f'"priority": {literal}')

    with pytest.raises(CatalogError) as info:
        parse_catalog(text, SOURCE)

    assert info.value.problems == [
        f"{SOURCE}: campaign #1 'mycampaign': priority: must be a finite number, got {shown}"
    ]


def test_duplicate_name_within_a_game(sample_campaign_doc: Doc) -> None:
    other = copy.deepcopy(sample_campaign_doc)
    other["priority"] = 1

    assert _problems_of_second(sample_campaign_doc, other) == [
        PREFIX + "'mycampaign': name: 'mycampaign' is already used by campaign #1 of game 'mygame'"
    ]


def test_duplicate_name_in_another_game(campaign_doc: Callable[..., Doc]) -> None:
    # active_campaigns holds names, so one name must identify one campaign.
    first, second = campaign_doc(game="a", name="sale"), campaign_doc(game="b", name="sale")

    assert _problems_of_second(first, second) == [
        PREFIX + "'sale': name: 'sale' is already used by campaign #1 of game 'a' "
        "(names must be unique across games)"
    ]


def test_every_repeat_of_a_name_names_the_first_campaign(campaign_doc: Callable[..., Doc]) -> None:
    docs = [campaign_doc(game=game, name="sale") for game in ("a", "b", "a")]

    with pytest.raises(CatalogError) as info:
        parse_catalog(json.dumps(docs), SOURCE)

    assert info.value.problems == [
        f"{SOURCE}: campaign #2 'sale': name: 'sale' is already used by campaign #1 of game "
        "'a' (names must be unique across games)",
        f"{SOURCE}: campaign #3 'sale': name: 'sale' is already used by campaign #1 of game 'a'",
    ]


def test_a_key_written_twice_is_an_error(sample_campaign_doc: Doc) -> None:
    text = json.dumps(sample_campaign_doc).replace(
        '"enabled": true', '"enabled": true, "enabled": false'
    )

    with pytest.raises(CatalogError) as info:
        parse_catalog(text, SOURCE)

    assert info.value.problems == [
        f"{SOURCE}: campaign #1 'mycampaign': enabled: is written more than once"
    ]


def test_every_problem_is_reported_at_once_in_file_order(sample_campaign_doc: Doc) -> None:
    first = copy.deepcopy(sample_campaign_doc)
    first.update(priority="high", enabled=None)
    first["matchers"]["level"] = {"min": 5, "max": 3}
    second = copy.deepcopy(sample_campaign_doc)
    second.update(game="other", name="", end_date="2020-01-01 00:00:00Z")
    third = copy.deepcopy(sample_campaign_doc)

    with pytest.raises(CatalogError) as info:
        parse_catalog(json.dumps([first, second, third, 7]), SOURCE)

    assert info.value.problems == [
        f"{SOURCE}: campaign #1 'mycampaign': priority: must be a number, got a string",
        f"{SOURCE}: campaign #1 'mycampaign': matchers.level: min 5 is greater than max 3",
        f"{SOURCE}: campaign #1 'mycampaign': enabled: must be true or false, got null",
        f"{SOURCE}: campaign #2 (no name): name: must not be empty",
        f"{SOURCE}: campaign #2 (no name): end_date: 2020-01-01 00:00:00Z is not after "
        "start_date 2022-01-25 00:00:00Z",
        f"{SOURCE}: campaign #3 'mycampaign': name: 'mycampaign' is already used by "
        "campaign #1 of game 'mygame'",
        f"{SOURCE}: campaign #4 (no name): must be a JSON object, got a number",
    ]
    assert str(info.value) == "\n".join(info.value.problems)


def test_campaign_from_document_names_source_and_index(sample_campaign_doc: Doc) -> None:
    sample_campaign_doc["matchers"]["level"]["min"] = 9

    with pytest.raises(CatalogError) as info:
        campaign_from_document(sample_campaign_doc, index=4, source="live.json")

    assert info.value.problems == [
        "live.json: campaign #5 'mycampaign': matchers.level: min 9 is greater than max 3"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "line 1 column 1: not valid JSON: Expecting value"),
        ('[{"game": ', "line 1 column 11: not valid JSON: Expecting value"),
        ('"mygame"', "must be a JSON list of campaigns or one campaign object, got a string"),
        ("null", "must be a JSON list of campaigns or one campaign object, got null"),
    ],
)
def test_a_file_that_is_not_a_catalog(text: str, problem: str) -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, SOURCE)

    assert info.value.problems == [f"{SOURCE}: {problem}"]


def test_a_missing_file_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"

    with pytest.raises(CatalogError) as info:
        load_catalog_file(path)

    assert info.value.problems == [f"{path}: cannot read: No such file or directory"]


# ---- versions ----


def test_catalog_is_in_listing_order(catalog_docs: list[Doc]) -> None:
    catalog = build_catalog(parse_catalog(json.dumps(catalog_docs), SOURCE))

    assert [(c.game, c.name) for c in catalog.campaigns] == [
        ("mygame", "paused"),
        ("mygame", "big_sale"),
        ("mygame", "mycampaign"),
        ("othergame", "alpha"),
        ("othergame", "autumn"),
    ]


def test_version_depends_on_content_only(catalog_docs: list[Doc]) -> None:
    reordered = [copy.deepcopy(d) for d in reversed(catalog_docs)]
    reordered[0]["start_date"] = reordered[0]["start_date"].replace(" ", "T")
    changed = copy.deepcopy(catalog_docs)
    changed[0]["priority"] = 11

    def version(docs: list[Doc]) -> str:
        return build_catalog(parse_catalog(json.dumps(docs, indent=1), SOURCE)).version

    assert version(reordered) == version(catalog_docs)
    assert version(changed) != version(catalog_docs)
    assert len(version(catalog_docs)) == 12
