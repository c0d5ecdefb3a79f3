"""The catalog the ConfigMap carries loads with the campaign service's own parser and
stays live: windows fixed in time, not relative to a `demo-catalog` run."""

from __future__ import annotations

from datetime import UTC, datetime

from services.campaigns.catalog_file import parse_catalog_parts
from tests.deploy.kustomize import Obj, named


def test_the_catalog_loads_and_its_windows_run_from_2026_to_2100(
    objects: list[Obj],
) -> None:
    config_map = named(objects, "ConfigMap", "profile-matcher-catalog")
    parts = parse_catalog_parts(config_map["data"]["catalog.json"], "catalog.json")
    enabled = [c for c in parts.campaigns if c.enabled]
    assert len(enabled) >= 2
    for campaign in enabled:
        assert campaign.start_date <= datetime(2026, 1, 1, tzinfo=UTC), campaign.name
        assert campaign.end_date >= datetime(2100, 1, 1, tzinfo=UTC), campaign.name
