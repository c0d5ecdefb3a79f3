"""CatalogReloader, driven one poll at a time (the threaded loop is exercised by the
server tests)."""

from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_file
from services.campaigns.holder import CatalogHolder
from services.campaigns.reloader import CatalogReloader, file_signature
from tests.campaigns.conftest import POLL_INTERVAL, write_atomically

Doc = dict[str, Any]


def _reloader(path: Path) -> tuple[CatalogHolder, CatalogReloader]:
    seen = file_signature(path)
    holder = CatalogHolder(build_catalog(load_catalog_file(path)))
    return holder, CatalogReloader(path, holder, interval=POLL_INTERVAL, seen=seen)


def _priority_of(holder: CatalogHolder, name: str) -> float:
    (campaign,) = (c for c in holder.current.catalog.campaigns if c.name == name)
    return campaign.priority


def test_a_valid_rewrite_replaces_the_catalog(catalog_path: Path, catalog_docs: list[Doc]) -> None:
    holder, reloader = _reloader(catalog_path)
    before = holder.current.catalog.version

    write_atomically(catalog_path, catalog_docs[:2])
    reloader.poll()

    assert holder.current.catalog.version != before
    assert len(holder.current.catalog.campaigns) == 2


def test_same_content_keeps_the_version(catalog_path: Path, catalog_docs: list[Doc]) -> None:
    holder, reloader = _reloader(catalog_path)
    first = holder.current

    write_atomically(catalog_path, list(reversed(catalog_docs)))
    reloader.poll()

    assert holder.current is first


def test_an_invalid_rewrite_keeps_the_last_good_catalog(
    catalog_path: Path, catalog_docs: list[Doc], caplog: pytest.LogCaptureFixture
) -> None:
    holder, reloader = _reloader(catalog_path)
    first = holder.current
    bad = copy.deepcopy(catalog_docs)
    bad[1]["matchers"]["level"] = {"min": 5, "max": 3}

    write_atomically(catalog_path, bad)
    with caplog.at_level(logging.ERROR):
        reloader.poll()
        reloader.poll()

    assert holder.current is first
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    # Logged once, not once per poll, with the problem named in full.
    assert len(errors) == 1
    assert (
        f"{catalog_path}: campaign #2 'big_sale': matchers.level: min 5 is greater than max 3"
        in errors[0]
    )
    assert f"still serving version {first.catalog.version}" in errors[0]


def test_a_rewrite_reusing_a_name_in_another_game_keeps_the_last_good_catalog(
    catalog_path: Path, catalog_docs: list[Doc], caplog: pytest.LogCaptureFixture
) -> None:
    holder, reloader = _reloader(catalog_path)
    first = holder.current
    # catalog_docs[3] is othergame's 'alpha'; mygame's 'mycampaign' is #0.
    bad = copy.deepcopy(catalog_docs)
    bad[3]["name"] = "mycampaign"

    write_atomically(catalog_path, bad)
    with caplog.at_level(logging.ERROR):
        reloader.poll()

    assert holder.current is first
    assert (
        f"{catalog_path}: campaign #4 'mycampaign': name: 'mycampaign' is already used by "
        "campaign #1 of game 'mygame' (names must be unique across games)"
    ) in caplog.text


def test_a_removed_file_keeps_the_catalog(
    catalog_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder, reloader = _reloader(catalog_path)
    first = holder.current

    catalog_path.unlink()
    with caplog.at_level(logging.WARNING):
        reloader.poll()

    assert holder.current is first
    assert "cannot stat the catalog file" in caplog.text


def test_a_recent_file_is_reread_even_when_its_signature_looks_unchanged(
    catalog_path: Path, catalog_docs: list[Doc]
) -> None:
    """A same-size rewrite within one timestamp tick (and a recycled inode) looks
    unchanged to stat; while the file is that young, polls read it anyway."""
    holder = CatalogHolder(build_catalog(load_catalog_file(catalog_path)))
    changed = copy.deepcopy(catalog_docs)
    changed[0]["priority"] = 99.5
    write_atomically(catalog_path, changed)
    signature = file_signature(catalog_path)
    assert signature is not None

    def old_file_clock() -> int:
        return signature.mtime_ns + 60_000_000_000

    # The reloader believes it has already loaded the file as it is now.
    settled = CatalogReloader(catalog_path, holder, seen=signature, clock_ns=old_file_clock)
    settled.poll()
    assert _priority_of(holder, "mycampaign") == 10.5

    young = CatalogReloader(catalog_path, holder, seen=signature)
    young.poll()
    assert _priority_of(holder, "mycampaign") == 99.5


def test_stop_ends_the_thread(catalog_path: Path) -> None:
    _, reloader = _reloader(catalog_path)
    reloader.start()

    reloader.stop()
    reloader.stop()

    assert not [t for t in threading.enumerate() if t.name.startswith("catalog-reloader")]
