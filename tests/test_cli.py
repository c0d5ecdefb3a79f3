"""The `profile-matcher` commands that have no server of their own to test through."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from mockupdb import OpMsg, go

from services.campaigns.catalog_file import load_catalog_file
from services.cli import main
from services.commands import up
from services.storage.sqlite_store import SQLiteProfileStore
from tests.mockupdb_server import ID_INDEX, PLAYER_ID_INDEX, reply_indexes, running_mockupdb


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


def test_import_rejects_a_time_out_of_range_after_its_offset_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "players.jsonl"
    lines = [
        {"player_id": "a", "level": 1},
        {"player_id": "b", "created": "0001-01-01T00:00:00+01:00"},
        {"player_id": "c", "level": 2},
    ]
    source.write_text("\n".join(json.dumps(line) for line in lines))
    db = tmp_path / "profiles.db"

    assert main(["import", str(source), "--store", str(db)]) == 1  # some were rejected

    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "created 2, updated 0, rejected 1" in captured.out
    assert (
        f"  {source}: record 2 (b): created: '0001-01-01T00:00:00+01:00' is out of range"
        in captured.out
    )
    store = SQLiteProfileStore.open(db)
    assert set(store.get_many(["a", "b", "c"])) == {"a", "c"}
    store.close()


def test_import_of_a_broken_json_list_names_the_file_record_and_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "players.json"
    source.write_text('[\n{"player_id": "a"},\n{"player_id": "b" "level": 1}\n]')

    assert main(["import", str(source)]) == 1

    out = capsys.readouterr().out
    assert (
        f"  {source}: record 2: line 3 column 19: invalid JSON: Expecting ',' delimiter;"
        " the rest of the list was not read"
    ) in out


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


def test_up_serves_on_loopback_only_and_takes_writes_without_a_token() -> None:
    parser = argparse.ArgumentParser()
    up.configure(parser)
    args = parser.parse_args(["--port", "6001", "--campaigns-port", "6002"])
    matcher = up.matcher_settings(args, campaigns_port=6002)
    assert (matcher.server.host, matcher.server.port) == ("127.0.0.1", 6001)
    assert matcher.campaigns_target == "127.0.0.1:6002"
    assert (matcher.allow_unauthenticated_writes, matcher.auth_token) == (True, None)
    campaigns = up.campaign_settings(args, Path("catalog.json"))
    assert (campaigns.host, campaigns.port, campaigns.auth_token) == ("127.0.0.1", 6002, None)


@pytest.fixture
def mongodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from running_mockupdb(monkeypatch)


def test_matcher_refuses_the_previous_mongodb_layout_naming_the_migration(
    mongodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"mongodb://{mongodb.address_string}/game"
    future = go(main, ["matcher", "--store", store, "--index-build-timeout", "1800"])

    reply_indexes(mongodb.receives(OpMsg("listIndexes", "profiles")), [ID_INDEX, PLAYER_ID_INDEX])
    mongodb.receives(OpMsg("find", "profiles")).ok(
        cursor={"id": 0, "ns": "game.profiles", "firstBatch": [{"_id": ObjectId()}]}
    )
    assert future() == 2  # as an unreachable server or a bad URI does
    err = capsys.readouterr().err
    assert err.startswith("profile-matcher matcher: MongoDB collection game.profiles is in the")
    assert "run `profile-matcher migrate-store --store <the same URI>` once" in err
    assert "Traceback" not in err
