"""Audience counts on the embedded store: a scan of every profile with the compiled
condition, beside a bare sqlite3 scan of the same rows (not a test: pytest does not
collect it).

    uv run python -m bench.audience                      # 1,000,000 profiles
    uv run python -m bench.audience --rows 100000 --passes 1

Fills a SQLite file with the demo generator's players once (kept and reused while it
holds the same number of rows), then times, in the same run and on the same rows:
- baseline: `SELECT player_id, profile, custom FROM profiles`, every row fetched in the
  scan's chunks and nothing done with it;
- parse only: the same, each row parsed into its Profile message;
- one count per campaign below, through SQLiteProfileStore.count_audience.
Best of `--passes` for each; profiles per second is rows / best time.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from profilematcher.profiles.v1 import profile_pb2
from services.demo.players import generate_players
from services.domain.campaign import Campaign, LevelRange
from services.domain.conditions import parse_condition
from services.domain.profile import Profile
from services.domain.profile_json import profile_from_document
from services.matcher.audience import audience_query
from services.storage import sqlite_audience
from services.storage.sqlite_store import SQLiteProfileStore

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def campaigns() -> list[tuple[str, Campaign]]:
    base = Campaign(
        game="mygame",
        name="bench",
        priority=1.0,
        start_date=NOW - timedelta(days=1),
        end_date=NOW + timedelta(days=1),
        enabled=True,
    )

    def where(doc: object) -> Campaign:
        return replace(base, where=parse_condition(doc, where="matchers.where"))

    return [
        (
            "matchers: level, 3 countries, 1 item held, 1 not",
            replace(
                base,
                level=LevelRange(1, 30),
                countries=("US", "RO", "CA"),
                required_items=("item_1",),
                forbidden_items=("item_4",),
            ),
        ),
        ("where: total_spent >= 100", where({"total_spent": {"$gte": 100}})),
        (
            "where: $or of a custom field and created within 300d",
            where({"$or": [{"_cohort": "a"}, {"created": {"$gte": {"$ago": "300d"}}}]}),
        ),
    ]


def fill(store: SQLiteProfileStore, rows: int) -> None:
    started = time.perf_counter()
    batch: list[Profile] = []
    for doc in generate_players(rows):
        batch.append(profile_from_document(doc))
        if len(batch) == 10_000:
            store.upsert_many(batch)
            batch = []
    if batch:
        store.upsert_many(batch)
    print(f"fill: {rows:,} profiles in {time.perf_counter() - started:.0f} s")


def best(passes: int, run: Callable[[], T]) -> tuple[float, T]:
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def bare_scan(store: SQLiteProfileStore, parse: bool) -> Callable[[], int]:
    def run() -> int:
        seen = 0
        with store._db.read("bench", None) as conn:
            cursor = conn.execute(sqlite_audience.SCAN_ALL)
            while rows := cursor.fetchmany(sqlite_audience.CHUNK_ROWS):
                if parse:
                    for _, wire, _ in rows:
                        profile_pb2.Profile.FromString(wire)
                seen += len(rows)
        return seen

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--path", default="/tmp/profile-matcher-audience.sqlite3")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()

    store = SQLiteProfileStore.open(Path(args.path))
    if store.count() != args.rows:
        store.close()
        Path(args.path).unlink(missing_ok=True)
        store = SQLiteProfileStore.open(Path(args.path))
        fill(store, args.rows)
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; python {platform.python_version()};")
    print(f"{platform.platform()}; {args.rows:,} profiles; best of {args.passes} passes")
    print()
    print("| scan | matched | seconds | profiles/s |")
    print("|---|---:|---:|---:|")
    for label, parse in (("baseline: bare sqlite3 scan", False), ("parse only", True)):
        seconds, seen = best(args.passes, bare_scan(store, parse))
        print(f"| {label} | - | {seconds:.2f} | {seen / seconds:,.0f} |")
    for label, campaign in campaigns():
        query = audience_query(campaign, NOW).query
        seconds, count = best(args.passes, partial(store.count_audience, query, timeout=None))
        print(
            f"| count, {label} | {count.matched:,} | {seconds:.2f} | {args.rows / seconds:,.0f} |"
        )
    store.close()


if __name__ == "__main__":
    main()
