"""The `profile-matcher` commands that have no server of their own to test through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.campaigns.catalog_file import load_catalog_file
from services.cli import main
from services.storage.sqlite_store import SQLiteProfileStore


def test_import_reports_counts_and_rejections(
    tmp_path: Path, sample_profile_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "players.jsonl"
    lines = [sample_profile_doc, {"player_id": "p2", "level": "high"}, {"player_id": "p3"}]
    source.write_text("\n".join(json.dumps(line) for line in lines))
    db = tmp_path / "profiles.db"
    assert main(["import", str(source), "--store", str(db)]) == 1  # one record rejected
    out = capsys.readouterr().out
    assert "created 2, updated 0, rejected 1" in out
    assert "record 2 (p2): level" in out
    store = SQLiteProfileStore.open(db)
    assert store.get("p3") is not None
    store.close()


@pytest.mark.parametrize("content", [None, b"\xff\xfe not utf-8"])
def test_import_of_a_missing_or_unreadable_file_is_a_clear_error(
    tmp_path: Path, content: bytes | None, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "players.json"
    if content is not None:
        source.write_bytes(content)
    assert main(["import", str(source), "--store", str(tmp_path / "db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("profile-matcher import:")
    assert "Traceback" not in err


def test_health_of_nothing_listening_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", "127.0.0.1:1", "--timeout", "0.5"]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err


def test_demo_catalog_is_a_valid_live_catalog(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    assert main(["demo-catalog", str(path)]) == 0
    names = {c.name for c in load_catalog_file(path)}
    assert "mycampaign" in names
    assert main(["demo-catalog", "--keep", str(path)]) == 0  # kept, not rewritten
