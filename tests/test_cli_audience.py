"""`profile-matcher audience`: counts and percentages for a catalog campaign, in a file
store, without a server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.cli import main
from services.domain.profile_json import profile_from_document
from services.storage.sqlite_store import SQLiteProfileStore
from tests.matcher.fakes import NOW


@pytest.fixture
def files(tmp_path: Path, sample_profile_doc: dict[str, Any]) -> tuple[Path, Path]:
    db = tmp_path / "profiles.db"
    store = SQLiteProfileStore.open(db)
    docs = [
        sample_profile_doc,
        {**sample_profile_doc, "player_id": "thrifty", "total_spent": 0},
        {**sample_profile_doc, "player_id": "too-high", "level": 9},
        {**sample_profile_doc, "player_id": "elsewhere", "country": "FR"},
    ]
    store.upsert_many([profile_from_document(doc) for doc in docs])
    store.close()
    window = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2027-01-01T00:00:00Z"}
    campaign: dict[str, Any] = {
        "game": "mygame",
        "priority": 1,
        "enabled": True,
        **window,
        "matchers": {"level": {"min": 1, "max": 3}, "has": {"country": ["US", "RO", "CA"]}},
    }
    catalog = {
        "segments": {"spenders": {"total_spent": {"$gt": 0}}},
        "campaigns": [
            {**campaign, "name": "plain"},
            {
                **campaign,
                "name": "on_ios",
                "matchers": {
                    **campaign["matchers"],
                    "where": {"$segment": "spenders", "context.platform": "ios"},
                },
            },
        ],
    }
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(catalog))
    return db, catalog_file


def test_prints_counts_and_percentages(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, catalog = files
    at = NOW.isoformat()
    argv = ["audience", "--store", str(db), "--catalog", str(catalog), "--at", at]
    assert main([*argv, "--campaign", "mygame/plain"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"campaign mygame/plain at 2026-06-01 12:00:00Z (live then: yes); store: SQLite file {db}"
    )
    assert out[1:] == [
        "matched             2   50.00%",
        "scanned             4  100.00%",
        "total               4",
    ]

    assert main([*argv, "--game", "mygame", "--name", "on_ios"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        "matched             1   25.00%  (an upper bound)",
        "scanned             4  100.00%",
        "total               4",
        "not evaluable in the store, counted as if they held:",
        "  matchers.where.context.platform",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "mygame/nope"], "no campaign 'nope' in game 'mygame'"),
        (["--campaign", "nogame"], "--campaign: want GAME/NAME, got 'nogame'"),
        ([], "name the campaign"),
        (["--campaign", "a/b", "--game", "a"], "not both"),
    ],
)
def test_bad_arguments_exit_2_saying_why(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db, catalog = files
    assert main(["audience", "--store", str(db), "--catalog", str(catalog), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("profile-matcher audience: ")
    assert message in err


def test_a_bad_catalog_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text("[{]")
    assert main(["audience", "--catalog", str(catalog), "--campaign", "a/b"]) == 2
    assert str(catalog) in capsys.readouterr().err
