"""Catalog files with experiments: the catalog object with groups, every new field read
as written, and every mistake named by file, campaign (or group) and field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.campaigns.catalog import build_catalog, catalog_version
from services.campaigns.catalog_file import (
    load_catalog_file,
    load_catalog_parts,
    parse_catalog,
    parse_catalog_parts,
)
from services.campaigns.catalog_writer import catalog_to_json, write_catalog_file
from services.campaigns.errors import CatalogError
from services.domain.experiment import Group, Rollout, Variant
from services.domain.schedule import Schedule

Doc = dict[str, Any]
SOURCE = "catalog.json"
WHERE = f"{SOURCE}: campaign #1 'starter_pack'"


@pytest.fixture
def issue_catalog(sample_campaign_doc: Doc) -> Doc:
    """The example of the issue that brought experiments."""
    doc = copy.deepcopy(sample_campaign_doc)
    doc.update(
        name="starter_pack",
        priority=40,
        rollout={"percent": 25},
        variants=[
            {"name": "control", "weight": 50, "payload": {"price": 4.99}},
            {"name": "cheaper", "weight": 50, "payload": {"price": 2.99}},
        ],
        group="popup",
        schedule={"cron": "0 18 * * FRI", "duration": "54h", "timezone": "Europe/Paris"},
        matchers={},
        start_date="2026-01-01 00:00:00Z",
        end_date="2027-01-01 00:00:00Z",
    )
    return {"groups": {"popup": {"max_active": 1, "holdout_percent": 5}}, "campaigns": [doc]}


def problems(catalog: Doc | list[Doc]) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog_parts(json.dumps(catalog), SOURCE)
    return info.value.problems


def test_the_issues_example_is_read_as_written(issue_catalog: Doc) -> None:
    (campaign,), segments, groups = parse_catalog_parts(json.dumps(issue_catalog), SOURCE)
    assert segments == ()
    assert groups == (Group("popup", max_active=1, holdout_threshold=5_000),)
    assert campaign.rollout == Rollout(25_000)
    assert campaign.variants == (
        Variant("control", 50, {"price": 4.99}),
        Variant("cheaper", 50, {"price": 2.99}),
    )
    assert campaign.group == "popup"
    assert campaign.schedule == Schedule("0 18 * * FRI", timedelta(hours=54), "Europe/Paris")
    assert campaign.payload is None


def test_written_back_it_reads_the_same_and_keeps_its_version(
    issue_catalog: Doc, tmp_path: Path
) -> None:
    campaigns, _, groups = parse_catalog_parts(json.dumps(issue_catalog), SOURCE)
    path = write_catalog_file(tmp_path / "catalog.json", campaigns, groups=groups)
    assert load_catalog_parts(path) == (campaigns, (), groups)
    assert build_catalog(*load_catalog_parts(path)) == build_catalog(campaigns, groups=groups)
    # The campaigns-only readers still read the campaigns of an object-form file.
    assert load_catalog_file(path) == campaigns
    assert parse_catalog(path.read_text(), SOURCE) == campaigns


def test_groups_are_part_of_the_version(issue_catalog: Doc) -> None:
    campaigns, _, groups = parse_catalog_parts(json.dumps(issue_catalog), SOURCE)
    other = (Group("popup", max_active=2, holdout_threshold=5_000),)
    assert catalog_version(campaigns, groups=groups) != catalog_version(campaigns, groups=other)


def test_a_catalog_without_groups_keeps_the_version_it_had(sample_campaign_doc: Doc) -> None:
    campaigns = parse_catalog(json.dumps([sample_campaign_doc]), SOURCE)
    as_object = parse_catalog_parts(json.dumps({"campaigns": [sample_campaign_doc]}), SOURCE)
    assert build_catalog(*as_object).version == catalog_version(campaigns)
    # Written back without groups, it is the list form, as before.
    assert catalog_to_json(campaigns).startswith("[")


def test_percentages_with_three_decimals(issue_catalog: Doc) -> None:
    campaign = issue_catalog["campaigns"][0]
    campaign["rollout"] = {"percent": 0.125, "salt": "spring"}
    issue_catalog["groups"]["popup"]["holdout_percent"] = 99.999
    (parsed,), _, groups = parse_catalog_parts(json.dumps(issue_catalog), SOURCE)
    assert parsed.rollout == Rollout(125, "spring")
    assert groups[0].holdout_threshold == 99_999


Mutation = Callable[[Doc], None]


def _campaign(change: Callable[[Doc], object]) -> Mutation:
    def mutate(catalog: Doc) -> None:
        change(catalog["campaigns"][0])

    return mutate


CAMPAIGN_RULES: list[tuple[str, Mutation, str]] = [
    (
        "percent above 100",
        _campaign(lambda d: d.update(rollout={"percent": 120})),
        "rollout.percent: must be between 0 and 100, got 120",
    ),
    (
        "percent below 0",
        _campaign(lambda d: d.update(rollout={"percent": -1})),
        "rollout.percent: must be between 0 and 100, got -1",
    ),
    (
        "percent with 4 decimals",
        _campaign(lambda d: d.update(rollout={"percent": 25.0001})),
        "rollout.percent: may have at most 3 decimals, got 25.0001",
    ),
    (
        "percent not a number",
        _campaign(lambda d: d.update(rollout={"percent": "25%"})),
        "rollout.percent: must be a number, got a string",
    ),
    (
        "percent missing",
        _campaign(lambda d: d.update(rollout={})),
        "rollout.percent: is required",
    ),
    (
        "unknown rollout field",
        _campaign(lambda d: d.update(rollout={"percent": 5, "seed": 1})),
        "rollout.seed: unknown field (expected one of: percent, salt)",
    ),
    (
        "weights all zero",
        _campaign(
            lambda d: d.update(variants=[{"name": "a", "weight": 0}, {"name": "b", "weight": 0}])
        ),
        "variants: the weights are all zero; at least one must be positive",
    ),
    (
        "negative weight",
        _campaign(lambda d: d.update(variants=[{"name": "a", "weight": -1}])),
        "variants[0].weight: must not be negative, got -1",
    ),
    (
        "fractional weight",
        _campaign(lambda d: d.update(variants=[{"name": "a", "weight": 0.5}])),
        "variants[0].weight: must be a whole number, got 0.5",
    ),
    (
        "weights too large",
        _campaign(
            lambda d: d.update(
                variants=[{"name": "a", "weight": 2**31}, {"name": "b", "weight": 2**31}]
            )
        ),
        "variants: the weights add up to 4,294,967,296, more than 2,147,483,647",
    ),
    (
        "duplicate variant name",
        _campaign(
            lambda d: d.update(variants=[{"name": "a", "weight": 1}, {"name": "a", "weight": 1}])
        ),
        "variants[1].name: 'a' is already the name of another variant",
    ),
    (
        "variant without a name",
        _campaign(lambda d: d.update(variants=[{"weight": 1}])),
        "variants[0].name: is required",
    ),
    (
        "no variants",
        _campaign(lambda d: d.update(variants=[])),
        "variants: must list at least one variant (leave it out for none)",
    ),
    (
        "payload not an object",
        _campaign(lambda d: (d.pop("variants"), d.update(payload=[4.99]))),
        "payload: must be a JSON object, got a list",
    ),
    (
        "variant payload not an object",
        _campaign(lambda d: d["variants"][1].update(payload="cheap")),
        "variants[1].payload: must be a JSON object, got a string",
    ),
    (
        "payload too large",
        _campaign(lambda d: (d.pop("variants"), d.update(payload={"text": "x" * 5000}))),
        "payload: is 5,011 bytes of JSON, more than the 4,096 allowed",
    ),
    (
        "payload integer beyond doubles",
        _campaign(lambda d: (d.pop("variants"), d.update(payload={"id": 2**60}))),
        "payload.id: integer 1152921504606846976 cannot travel exactly",
    ),
    (
        "payload too deep",
        _campaign(lambda d: (d.pop("variants"), d.update(payload=_nested(40)))),
        "payload." + ".".join(["x"] * 32) + ": is nested more than 32 levels deep",
    ),
    (
        "payload beside variants",
        _campaign(lambda d: d.update(payload={"price": 1})),
        "payload: a campaign with variants carries payloads in its variants",
    ),
    (
        "unknown group",
        _campaign(lambda d: d.update(group="popupp")),
        "group: unknown group 'popupp' (groups: popup)",
    ),
    (
        "group not a string",
        _campaign(lambda d: d.update(group=1)),
        "group: must be a string, got a number",
    ),
    (
        "bad cron",
        _campaign(lambda d: d["schedule"].update(cron="0 18 * * FRX")),
        "schedule.cron: '0 18 * * FRX' is not a valid cron expression",
    ),
    (
        "cron with seconds",
        _campaign(lambda d: d["schedule"].update(cron="0 0 18 * * FRI")),
        "schedule.cron: '0 0 18 * * FRI' must have 5 fields",
    ),
    (
        "bad time zone",
        _campaign(lambda d: d["schedule"].update(timezone="Europe/Pariss")),
        "schedule.timezone: 'Europe/Pariss' is not an IANA time zone name",
    ),
    (
        "duration zero",
        _campaign(lambda d: d["schedule"].update(duration="0h")),
        "schedule.duration: '0h' is not positive",
    ),
    (
        "duration not a duration",
        _campaign(lambda d: d["schedule"].update(duration="2 days")),
        "schedule.duration: '2 days' is not a duration like '54h', '1h30m' or '2d'",
    ),
    (
        "duration a number",
        _campaign(lambda d: d["schedule"].update(duration=54)),
        "schedule.duration: must be a string like '54h', got a number",
    ),
    (
        "cron missing",
        _campaign(lambda d: d["schedule"].pop("cron")),
        "schedule.cron: is required",
    ),
]


def _nested(depth: int) -> Doc:
    doc: Doc = {}
    for _ in range(depth):
        doc = {"x": doc}
    return doc


@pytest.mark.parametrize(
    ("mutate", "expected"), [r[1:] for r in CAMPAIGN_RULES], ids=[r[0] for r in CAMPAIGN_RULES]
)
def test_campaign_field_problems_name_file_campaign_and_field(
    issue_catalog: Doc, mutate: Mutation, expected: str
) -> None:
    mutate(issue_catalog)
    found = problems(issue_catalog)
    assert len(found) == 1, found
    assert found[0].startswith(f"{WHERE}: {expected}")


GROUP_RULES: list[tuple[str, Any, str]] = [
    ("limit zero", {"max_active": 0}, "max_active: must be at least 1"),
    ("limit not whole", {"max_active": 1.5}, "max_active: must be a whole number, got a number"),
    ("holdout above 100", {"holdout_percent": 101}, "holdout_percent: must be between 0 and 100"),
    ("holdout a string", {"holdout_percent": "5"}, "holdout_percent: must be a number"),
    ("unknown field", {"limit": 1}, "limit: unknown field (expected one of: max_active,"),
    ("not an object", 1, "must be an object, got a number"),
]


@pytest.mark.parametrize(
    ("group", "expected"), [r[1:] for r in GROUP_RULES], ids=[r[0] for r in GROUP_RULES]
)
def test_group_problems_name_file_group_and_field(
    issue_catalog: Doc, group: Any, expected: str
) -> None:
    issue_catalog["groups"]["popup"] = group
    found = problems(issue_catalog)
    assert len(found) == 1, found
    assert found[0].startswith(f"{SOURCE}: group 'popup': {expected}")


def test_catalog_object_problems(issue_catalog: Doc) -> None:
    assert problems({**issue_catalog, "segmentz": {}, "extra": 1}) == [
        f"{SOURCE}: unknown top-level fields 'segmentz', 'extra'"
        " (expected: campaigns, segments, groups)"
    ]
    assert problems({"groups": {}}) == [f"{SOURCE}: campaigns: is required (a list of campaigns)"]
    assert problems({"campaigns": {}}) == [
        f"{SOURCE}: campaigns: must be a list of campaigns, got an object"
    ]
    assert problems({"campaigns": [], "groups": []}) == [
        f"{SOURCE}: groups: must be an object of group name to group, got a list"
    ]


def test_a_campaign_naming_a_group_in_a_catalog_without_groups(issue_catalog: Doc) -> None:
    assert problems(issue_catalog["campaigns"]) == [
        f"{WHERE}: group: unknown group 'popup' (groups: the catalog defines none)"
    ]


def test_every_problem_of_a_campaign_at_once(issue_catalog: Doc) -> None:
    campaign = issue_catalog["campaigns"][0]
    campaign["rollout"] = {"percent": 101}
    campaign["schedule"] = {"cron": "nope", "duration": "0h", "timezone": "Mars/Base"}
    found = problems(issue_catalog)
    assert [p.split(": ")[2] for p in found] == [
        "rollout.percent",
        "schedule.cron",
        "schedule.timezone",
        "schedule.duration",
    ]
