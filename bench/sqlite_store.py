"""Benchmark of SQLiteProfileStore at scale (not a test: pytest does not collect it).

    uv run python -m bench.sqlite_store --rows 1000000 --path /tmp/pm.sqlite3

Fills the file once (reused on the next run if it holds the same number of rows),
then measures point reads (hits and misses; as messages, the serving path, and as
validated domain profiles), batched reads and writes, and many threads reading at
once. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from services.demo.players import sample_profile
from services.domain.profile_json import profile_from_document
from services.storage.sqlite_schema import SELECT_ONE
from services.storage.sqlite_store import SQLiteProfileStore


def player_id(i: int) -> str:
    # UUID-shaped like the sample, spread over the key space rather than sequential.
    return f"{(i * 2654435761) % 2**32:08x}-98b7-11e7-90cf-{i:012d}"


def fill(store: SQLiteProfileStore, rows: int) -> None:
    base = profile_from_document(sample_profile())
    started = time.perf_counter()
    batch = 10_000
    for start in range(0, rows, batch):
        store.upsert_many(
            [
                dataclasses.replace(base, player_id=player_id(i), level=i % 100, xp=i)
                for i in range(start, min(start + batch, rows))
            ]
        )
    elapsed = time.perf_counter() - started
    print(f"fill: {rows:,} rows in {elapsed:.1f}s ({rows / elapsed:,.0f} rows/s)")


def latencies(call: Callable[[int], object], keys: list[int]) -> list[float]:
    out = []
    for key in keys:
        started = time.perf_counter_ns()
        call(key)
        out.append((time.perf_counter_ns() - started) / 1000)
    return out


def report(name: str, micros: list[float]) -> None:
    ordered = sorted(micros)

    def p(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    print(
        f"{name}: n={len(micros):,} mean={statistics.fmean(micros):.1f}us"
        f" p50={p(0.5):.1f}us p99={p(0.99):.1f}us max={ordered[-1]:.0f}us"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--path", default="/tmp/profile-matcher-bench.sqlite3")
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    store = SQLiteProfileStore.open(args.path)
    if store.count() != args.rows:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(args.path + suffix).unlink(missing_ok=True)
        store = SQLiteProfileStore.open(args.path)
        fill(store, args.rows)
    size = os.path.getsize(args.path) / 2**20
    print(f"file: {args.path} {size:,.0f} MiB, {args.rows:,} rows, SQLite {sqlite3.sqlite_version}")

    rng = random.Random(1)
    keys = [rng.randrange(args.rows) for _ in range(args.samples)]
    missing = [args.rows + k for k in keys]

    # Warm the page cache once, as a long-running server would be.
    for key in keys:
        store.get(player_id(key))

    raw = sqlite3.connect(args.path)
    report(
        "raw SELECT by key (no decoding)",
        latencies(lambda k: raw.execute(SELECT_ONE, (player_id(k),)).fetchone(), keys),
    )
    raw.close()
    report(
        "read_for_serving(1 id), as GetClientConfig reads",
        latencies(lambda k: store.read_for_serving([player_id(k)]), keys),
    )
    report("get() hit", latencies(lambda k: store.get(player_id(k)), keys))
    report("get() miss", latencies(lambda k: store.get(player_id(k)), missing))

    groups = [keys[i : i + 100] for i in range(0, 2_000, 100)]
    report(
        "get_many(100 ids)",
        latencies(
            lambda g: store.get_many([player_id(k) for k in groups[g]]), list(range(len(groups)))
        ),
    )
    report(
        "read_for_serving(100 ids)",
        latencies(
            lambda g: store.read_for_serving([player_id(k) for k in groups[g]]),
            list(range(len(groups))),
        ),
    )
    report(
        "set_active_campaigns(1 player)",
        latencies(
            lambda k: store.set_active_campaigns({player_id(k): ["spring-sale", "vip"]}),
            keys[:2_000],
        ),
    )
    report(
        "set_active_campaigns(100 players)",
        latencies(
            lambda g: store.set_active_campaigns({player_id(k): ["x"] for k in groups[g]}),
            list(range(len(groups))),
        ),
    )

    per_thread = args.samples // args.threads

    def reader(offset: int) -> None:
        for key in keys[offset * per_thread : (offset + 1) * per_thread]:
            store.get(player_id(key))

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(args.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = per_thread * args.threads
    print(
        f"get() from {args.threads} threads: {total / elapsed:,.0f} reads/s"
        f" on {os.cpu_count()} CPUs"
    )
    store.close()


if __name__ == "__main__":
    main()
