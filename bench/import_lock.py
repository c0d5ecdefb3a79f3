"""How long one ImportProfiles batch holds the in-memory embedded store's write lock
(not a test: pytest does not collect it).

    uv run python -m bench.import_lock --rows 100000 --batches 40

With the in-memory store, GetClientConfig runs inline on the aio server's loop, and
a match that changes a player's stored active_campaigns writes them back there: that
write waits for the lock while an import batch holds it, and the whole loop waits
with it. The server imports in batches of import_profiles' default size (the only
size it uses); each batch is encoded before the lock is taken, so the lock covers
the transaction alone. Prints the hold time of each kind of batch, beside that of
the one-player write-back the loop would wait to make.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any

from services.demo.players import generate_players
from services.domain.profile import Profile
from services.domain.profile_json import profile_from_document
from services.profiles.import_profiles import import_profiles
from services.storage.sqlite_store import SQLiteProfileStore

DEFAULT_BATCH: int = inspect.signature(import_profiles).parameters["batch_size"].default


class TimedLock:
    """Stands in for the store's write lock: records how long each hold lasted."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.holds: list[float] = []
        self._since = 0.0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got: bool = self._inner.acquire(blocking, timeout)
        self._since = time.perf_counter()
        return got

    def release(self) -> None:
        self.holds.append(time.perf_counter() - self._since)
        self._inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()


def report(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    print(
        f"{name}: n={len(ms)} mean={statistics.fmean(ms):.2f}ms"
        f" p50={statistics.median(ms):.2f}ms p90={p90:.2f}ms max={ms[-1]:.2f}ms"
    )


def measured(lock: TimedLock, batches: int, write: Callable[[int], object]) -> list[float]:
    lock.holds.clear()
    for i in range(batches):
        write(i)
    return list(lock.holds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000, help="players stored first")
    parser.add_argument("--batches", type=int, default=40, help="batches of each kind")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--blob", type=int, default=64 * 1024, help="custom bytes, heavy kind")
    args = parser.parse_args()

    store = SQLiteProfileStore.in_memory()
    lock = TimedLock(store._db.write_lock)
    store._db.write_lock = lock  # type: ignore[assignment]
    players = [profile_from_document(doc) for doc in generate_players(args.rows)]
    for start in range(0, args.rows, 10_000):
        store.upsert_many(players[start : start + 10_000])
    size = args.batch

    def replaced(i: int) -> list[Profile]:
        first = (i * size) % max(1, args.rows - size)
        return [dataclasses.replace(p, xp=i) for p in players[first : first + size]]

    def new(i: int) -> list[Profile]:
        return [
            dataclasses.replace(p, player_id=f"{p.player_id[:-6]}{i:06d}")
            for p in players[i * size : (i + 1) * size]
        ]

    def heavy(i: int) -> list[Profile]:
        blob = {"_blob": "x" * args.blob}
        return [dataclasses.replace(p, custom_fields=blob) for p in replaced(i)]

    print(f"store: in memory, {args.rows:,} players; batch: {size} profiles")
    for name, make in (("replace", replaced), ("create", new), (f"heavy {args.blob:,}B", heavy)):
        built = [make(i) for i in range(args.batches)]

        def write(i: int, batches: list[list[Profile]] = built) -> None:
            store.upsert_many(batches[i])

        report(f"{name} batch", measured(lock, args.batches, write))
    write_backs = measured(
        lock,
        args.batches * 10,
        lambda i: store.set_active_campaigns({players[i].player_id: (f"c{i}",)}),
    )
    report("one write-back", write_backs)
    store.close()


if __name__ == "__main__":
    main()
