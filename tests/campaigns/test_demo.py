"""The demo catalog: valid, in the users' format, always live around `now`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.campaigns.catalog_file import load_catalog_file, load_catalog_parts
from services.campaigns.demo import write_demo_catalog
from services.domain.campaign import LevelRange

NOW = datetime(2030, 5, 17, 12, 30, 15, 123456, tzinfo=UTC)


def test_demo_catalog_loads_and_has_a_live_copy_of_the_sample(tmp_path: Path) -> None:
    path = write_demo_catalog(tmp_path / "demo.json", NOW)

    campaigns = load_catalog_file(path)

    assert path == tmp_path / "demo.json"
    (sample,) = [c for c in campaigns if (c.game, c.name) == ("mygame", "mycampaign")]
    assert sample.priority == 10.5
    assert sample.level == LevelRange(1, 3)
    assert sample.countries == ("US", "RO", "CA")
    assert sample.required_items == ("item_1",)
    assert sample.forbidden_items == ("item_4",)
    assert sample.is_live(NOW)
    # now-1d .. now+30d, to the second.
    assert sample.start_date == datetime(2030, 5, 16, 12, 30, 15, tzinfo=UTC)
    assert sample.end_date == datetime(2030, 6, 16, 12, 30, 15, tzinfo=UTC)


def test_demo_catalog_mixes_live_and_not_live(tmp_path: Path) -> None:
    campaigns = load_catalog_file(write_demo_catalog(tmp_path / "demo.json", NOW))

    assert {c.game for c in campaigns} == {"mygame", "spacegame"}
    assert len(campaigns) >= 9
    assert [c.name for c in campaigns if not c.enabled] == ["paused_offer"]
    assert [c.name for c in campaigns if c.end_date <= NOW] == ["halloween_event"]
    assert [c.name for c in campaigns if c.start_date > NOW] == ["season_two"]
    assert sum(c.is_live(NOW) for c in campaigns) == len(campaigns) - 3


def test_demo_catalog_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.json"
    path.write_text("old")

    write_demo_catalog(path, NOW)

    assert path.read_text().startswith("{")  # the catalog object: segments and groups
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]


def test_demo_needs_an_aware_now(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        write_demo_catalog(tmp_path / "demo.json", datetime(2030, 1, 1))


def test_demo_catalog_shows_targeting_off(tmp_path: Path) -> None:
    parts = load_catalog_parts(write_demo_catalog(tmp_path / "demo.json", NOW))
    targeted = {c.name: c.where for c in parts.campaigns if c.where is not None}
    assert set(targeted) == {"come_back_offer", "ios_spender_deal"}
    assert {s.name for s in parts.segments} == {"lapsed", "spenders"}
    assert all(where.uses_context and where.segments_used for where in targeted.values())
