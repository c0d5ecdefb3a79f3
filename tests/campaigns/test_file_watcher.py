"""CatalogFileWatcher, driven one poll at a time (the threaded loop is exercised by the
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
from services.campaigns.file_watcher import CatalogFileWatcher, file_signature
from services.campaigns.served_catalog import ServedCatalog
from tests.campaigns.conftest import POLL_INTERVAL, write_atomically

Doc = dict[str, Any]


def _watched(path: Path) -> tuple[ServedCatalog, CatalogFileWatcher]:
    seen = file_signature(path)
    served = ServedCatalog(build_catalog(load_catalog_file(path)))
    return served, CatalogFileWatcher(path, served, interval=POLL_INTERVAL, seen=seen)


def _priority_of(served: ServedCatalog, name: str) -> float:
    (campaign,) = (c for c in served.current.catalog.campaigns if c.name == name)
    return campaign.priority


def test_a_valid_rewrite_replaces_the_catalog(catalog_path: Path, catalog_docs: list[Doc]) -> None:
    served, watcher = _watched(catalog_path)
    before = served.current.catalog.version

    write_atomically(catalog_path, catalog_docs[:2])
    watcher.poll()

    assert served.current.catalog.version != before
    assert len(served.current.catalog.campaigns) == 2


def test_same_content_keeps_the_version(catalog_path: Path, catalog_docs: list[Doc]) -> None:
    served, watcher = _watched(catalog_path)
    first = served.current

    write_atomically(catalog_path, list(reversed(catalog_docs)))
    watcher.poll()

    assert served.current is first


def test_an_invalid_rewrite_keeps_the_last_good_catalog(
    catalog_path: Path, catalog_docs: list[Doc], caplog: pytest.LogCaptureFixture
) -> None:
    served, watcher = _watched(catalog_path)
    first = served.current
    bad = copy.deepcopy(catalog_docs)
    bad[1]["matchers"]["level"] = {"min": 5, "max": 3}

    write_atomically(catalog_path, bad)
    with caplog.at_level(logging.ERROR):
        watcher.poll()
        watcher.poll()

    assert served.current is first
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
    served, watcher = _watched(catalog_path)
    first = served.current
    # catalog_docs[3] is othergame's 'alpha'; mygame's 'mycampaign' is #0.
    bad = copy.deepcopy(catalog_docs)
    bad[3]["name"] = "mycampaign"

    write_atomically(catalog_path, bad)
    with caplog.at_level(logging.ERROR):
        watcher.poll()

    assert served.current is first
    assert (
        f"{catalog_path}: campaign #4 'mycampaign': name: 'mycampaign' is already used by "
        "campaign #1 of game 'mygame' (names must be unique across games)"
    ) in caplog.text


def test_a_removed_file_keeps_the_catalog(
    catalog_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served, watcher = _watched(catalog_path)
    first = served.current

    catalog_path.unlink()
    with caplog.at_level(logging.WARNING):
        watcher.poll()

    assert served.current is first
    assert "cannot stat the catalog file" in caplog.text


def test_a_recent_file_is_reread_even_when_its_signature_looks_unchanged(
    catalog_path: Path, catalog_docs: list[Doc]
) -> None:
    """A same-size rewrite within one timestamp tick (and a recycled inode) looks
    unchanged to stat; while the file is that young, polls read it anyway."""
    served = ServedCatalog(build_catalog(load_catalog_file(catalog_path)))
    changed = copy.deepcopy(catalog_docs)
    changed[0]["priority"] = 99.5
    write_atomically(catalog_path, changed)
    signature = file_signature(catalog_path)
    assert signature is not None

    def old_file_clock() -> int:
        return signature.mtime_ns + 60_000_000_000

    # The watcher believes it has already loaded the file as it is now.
    settled = CatalogFileWatcher(catalog_path, served, seen=signature, clock_ns=old_file_clock)
    settled.poll()
    assert _priority_of(served, "mycampaign") == 10.5

    young = CatalogFileWatcher(catalog_path, served, seen=signature)
    young.poll()
    assert _priority_of(served, "mycampaign") == 99.5


def test_stop_ends_the_thread(catalog_path: Path) -> None:
    _, watcher = _watched(catalog_path)
    watcher.start()

    watcher.stop()
    watcher.stop()

    assert not [t for t in threading.enumerate() if t.name.startswith("catalog-watcher")]
