"""A catalog object with both segments and groups: read, written back, versioned."""

from __future__ import annotations

import json
from typing import Any

from services.campaigns.catalog import build_catalog, catalog_version
from services.campaigns.catalog_file import parse_catalog, parse_catalog_parts
from services.campaigns.catalog_writer import catalog_to_json
from services.domain.experiment import Group

SOURCE = "catalog.json"


def _catalog(sample_campaign_doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(sample_campaign_doc)
    doc["matchers"] = {**doc["matchers"], "where": {"$segment": "spenders"}}
    doc["group"] = "popup"
    return {
        "segments": {"spenders": {"total_spent": {"$gte": 100}}},
        "groups": {"popup": {"max_active": 1}},
        "campaigns": [doc],
    }


def test_both_sections_are_read_and_written_back(sample_campaign_doc: dict[str, Any]) -> None:
    parts = parse_catalog_parts(json.dumps(_catalog(sample_campaign_doc)), SOURCE)
    (campaign,) = parts.campaigns
    assert [s.name for s in parts.segments] == ["spenders"]
    assert parts.groups == (Group("popup", max_active=1),)
    assert campaign.group == "popup"
    assert campaign.where is not None

    text = catalog_to_json(*parts)
    assert set(json.loads(text)) == {"segments", "groups", "campaigns"}
    assert (
        build_catalog(*parse_catalog_parts(text, SOURCE)).version == build_catalog(*parts).version
    )


def test_the_version_hashes_both_and_each_alone_keeps_its_own(
    sample_campaign_doc: dict[str, Any],
) -> None:
    campaigns, segments, groups = parse_catalog_parts(
        json.dumps(_catalog(sample_campaign_doc)), SOURCE
    )
    both = catalog_version(campaigns, segments, groups)
    assert len({both, catalog_version(campaigns, segments), catalog_version(campaigns)}) == 3
    assert build_catalog(campaigns, segments, groups).version == both
    # No sections: the version of the plain list, as before either existed.
    plain = parse_catalog(json.dumps([sample_campaign_doc]), SOURCE)
    assert catalog_version(plain, (), ()) == catalog_version(plain)
    assert build_catalog(
        *parse_catalog_parts(json.dumps({"campaigns": [sample_campaign_doc]}), SOURCE)
    ).version == catalog_version(plain)
