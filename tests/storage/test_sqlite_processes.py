"""Two processes writing one file store, as the workers of `--processes N` do: SQLite's
file lock, the busy timeout and the store's write transactions keep every update."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from services.domain.profile_json import profile_from_document
from services.storage.sqlite_store import SQLiteProfileStore

UPDATES = 150


def increment(path: str, player_id: str, field: str, both_open: Any) -> None:
    """UpdateProfile's way, many times: read the profile, then write the field + 1.

    Only this process writes `field`, so the read is never stale for it; what could
    lose an update is the other process writing back a whole profile read before
    this write committed."""
    store = SQLiteProfileStore.open(path, timeout=30)
    try:
        both_open.wait(30)  # neither loop starts before the other process has the store
        for _ in range(UPDATES):
            profile = store.get(player_id)
            assert profile is not None
            current = profile.custom_fields.get(field, 0)
            assert isinstance(current, int)
            store.update_fields(player_id, {field: current + 1})
            store.set_active_campaigns({player_id: [field]})  # the matcher's write-back
    finally:
        store.close()


def test_concurrent_writers_in_two_processes_lose_no_update(
    tmp_path: Path, sample_profile_doc: dict[str, Any]
) -> None:
    path = tmp_path / "profiles.db"
    player_id = sample_profile_doc["player_id"]
    store = SQLiteProfileStore.open(path)
    store.create(profile_from_document(sample_profile_doc))
    store.close()
    # spawn: a fresh interpreter, so no gRPC state of this test process is forked.
    context = multiprocessing.get_context("spawn")
    both_open = context.Barrier(2)
    writers = [
        context.Process(target=increment, args=(str(path), player_id, field, both_open))
        for field in ("_a", "_b")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]

    store = SQLiteProfileStore.open(path)
    profile = store.get(player_id)
    store.close()
    assert profile is not None
    assert (profile.custom_fields["_a"], profile.custom_fields["_b"]) == (UPDATES, UPDATES)
    assert list(profile.active_campaigns) in (["_a"], ["_b"])
