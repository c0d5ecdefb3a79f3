"""Nothing may starve GetClientConfig: not import streams, idle or slow, nor a big batch,
nor slow calls filling the server's own threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from profilematcher.matcher.v1 import matcher_service_pb2 as mpb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from services.demo.players import generate_players
from services.domain.profile_json import profile_from_document
from services.profiles.import_profiles import import_profiles
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually
from tests.matcher.feeds import Feed

WORKERS = ServerOptions().max_workers  # the server's own pool
# More streams than the server has worker threads: each used to hold one.
STREAMS = WORKERS + 4


@pytest.fixture
def file_store(tmp_path: Path, sample_profile_doc: dict[str, Any]) -> Iterator[SpyStore]:
    store = SpyStore(SQLiteProfileStore.open(tmp_path / "profiles.db"))
    store.inner.create(profile_from_document(sample_profile_doc))
    players = ((i, doc, None) for i, doc in enumerate(generate_players(499)))
    import_profiles(store.inner, players)
    yield store
    store.close()


def test_get_client_config_is_served_while_imports_and_a_big_batch_hold_threads(
    file_store: SpyStore, campaigns: CampaignServer, sample_profile_doc: dict[str, Any]
) -> None:
    player = sample_profile_doc["player_id"]
    batch_ids = [player] + [str(d["player_id"]) for d in generate_players(499)]
    # Reads wait inside the store until the end, so that the calls making them stay in
    # flight: the batch's (the first), and every read on the server's own pool.
    release = threading.Event()
    batch_reading = threading.Event()
    held_on_server_pool: list[str] = []

    def hold_reads() -> None:
        thread = threading.current_thread().name
        if not batch_reading.is_set():
            batch_reading.set()
        elif thread.startswith("grpc-worker"):
            held_on_server_pool.append(thread)
        else:
            return
        release.wait(timeout=30)

    server = start(file_store, campaigns)  # the default settings
    feeds = [Feed() for _ in range(STREAMS)]
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            matcher = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
            imports = [profiles.ImportProfiles.future(iter(feed), timeout=30) for feed in feeds]

            def refused() -> list[int]:
                done = [i for i, call in enumerate(imports) if call.done()]
                assert len(done) == STREAMS - 2, "the streams beyond the cap are not all refused"
                return done

            for i in eventually(refused):
                assert imports[i].code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            idle, slow = [
                feed for feed, call in zip(feeds, imports, strict=True) if not call.done()
            ]
            file_store.before_read.append(hold_reads)
            batch = matcher.BatchGetClientConfig.future(
                mpb.BatchGetClientConfigRequest(player_ids=batch_ids), timeout=30
            )
            assert batch_reading.wait(timeout=10)
            # Slow ProfileService reads take every server thread the streams left.
            gets = [
                profiles.GetProfile.future(ppb.GetProfileRequest(player_id=player), timeout=30)
                for _ in range(WORKERS)
            ]

            def server_pool_full() -> None:
                assert len(held_on_server_pool) == WORKERS - 2

            eventually(server_pool_full)

            for n in range(20):
                slow.send(profile_pb2.Profile(player_id=f"slow-{n}"))
                got = matcher.GetClientConfig(
                    mpb.GetClientConfigRequest(player_id=player), timeout=10
                )
                assert list(got.profile.active_campaigns) == ["mycampaign"]
                dry_run = matcher.MatchProfile(
                    mpb.MatchProfileRequest(profile=got.profile), timeout=10
                )
                assert list(dry_run.active_campaigns) == ["mycampaign"]

            release.set()
            assert len(batch.result().results) == 500
            assert all(get.result().profile.player_id == player for get in gets)
            slow.close()
            idle.close()
            reports = [call.result() for call in imports if call.code() == grpc.StatusCode.OK]
            assert sorted(r.created for r in reports) == [0, 20]
    finally:
        release.set()
        for feed in feeds:
            feed.close()
        server.stop(0)
