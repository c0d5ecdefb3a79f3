"""Operating the matcher: overload, message limits, auth and metrics as wired, SIGTERM."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import generate_latest

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from services.matcher.settings import MatcherSettings
from services.transport.grpc_server import ServerOptions
from tests.matcher.conftest import HELD_READS, start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually
from tests.observability.conftest import value
from tests.rpc import bearer, code_of

TOKEN = "a-long-enough-test-token-123"


def channel_to(server: Any) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{server.port}")


class HeldReads:
    """Holds every read of `store` until `release`; `entered` counts the reads held."""

    def __init__(self, store: SpyStore) -> None:
        self.entered = threading.Semaphore(0)
        self._released = threading.Event()
        store.before_read.append(self._hold)

    def _hold(self) -> None:
        self.entered.release()
        self._released.wait(10)

    def release(self) -> None:
        self._released.set()


def test_overload_gets_resource_exhausted_at_once(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    options = ServerOptions(host="127.0.0.1", max_workers=4, max_concurrent_rpcs=2, grace_seconds=0)
    server = start(store, campaigns, server=options, **HELD_READS)
    reads = HeldReads(store)
    with channel_to(server) as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        request = pb.GetClientConfigRequest(player_id=sample_player)
        held = [stub.GetClientConfig.future(request, timeout=10) for _ in range(2)]
        assert reads.entered.acquire(timeout=5)
        assert reads.entered.acquire(timeout=5)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetClientConfig(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        reads.release()
        assert [list(f.result().profile.active_campaigns) for f in held] == [["mycampaign"]] * 2
    server.stop(0)
    assert handled(server, "GetClientConfig", "ResourceExhausted") == 1
    assert handled(server, "GetClientConfig", "OK") == 2


def test_a_refusal_does_not_queue_behind_the_match_pool(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    options = ServerOptions(host="127.0.0.1", max_concurrent_rpcs=1, grace_seconds=0)
    server = start(store, campaigns, server=options, match_workers=1, **HELD_READS)
    reads = HeldReads(store)
    with channel_to(server) as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        request = pb.GetClientConfigRequest(player_id=sample_player)
        held = stub.GetClientConfig.future(request, timeout=10)
        assert reads.entered.acquire(timeout=5)
        # The one match thread is busy: the refusal must come from elsewhere, before
        # the held call ends.
        with pytest.raises(grpc.RpcError) as info:
            stub.GetClientConfig(request, timeout=5)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        reads.release()
        held.result()
    server.stop(0)
    assert handled(server, "GetClientConfig", "ResourceExhausted") == 1


def handled(server: Any, method: str, code: str) -> float:
    return value(
        server.metrics.registry, "grpc_server_handled_total", grpc_method=method, grpc_code=code
    )


def test_oversized_messages_are_refused(store: SpyStore, campaigns: CampaignServer) -> None:
    options = ServerOptions(host="127.0.0.1", max_message_bytes=2048, grace_seconds=0)
    server = start(store, campaigns, server=options)
    codes = []
    # Over the limit, then over twice the limit (grpc's own, not counted).
    for size in (3000, 10_000):
        profile = profile_pb2.Profile(player_id="big")
        profile.custom_fields["_blob"].string_value = "x" * size
        with channel_to(server) as channel, pytest.raises(grpc.RpcError) as info:
            profile_service_pb2_grpc.ProfileServiceStub(channel).CreateProfile(
                ppb.CreateProfileRequest(profile=profile), timeout=10
            )
        codes.append(info.value.code())
    assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
    assert store.inner.get("big") is None
    server.stop(0)
    assert handled(server, "CreateProfile", "ResourceExhausted") == 1


def test_with_public_reads_writes_need_the_token_reads_do_not(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns, auth_token=TOKEN, public_reads=True)
    create = ppb.CreateProfileRequest(profile=profile_pb2.Profile(player_id="new"))
    with channel_to(server) as channel:
        profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
        unauthenticated = code_of(lambda: profiles.CreateProfile(create, timeout=10))
        assert unauthenticated == grpc.StatusCode.UNAUTHENTICATED
        wrong = bearer("no")
        denied = code_of(lambda: profiles.CreateProfile(create, timeout=10, metadata=wrong))
        assert denied == grpc.StatusCode.PERMISSION_DENIED
        assert store.inner.get("new") is None
        profiles.CreateProfile(create, timeout=10, metadata=bearer(TOKEN))
        assert store.inner.get("new") is not None
        matcher = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        response = matcher.GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player))
        assert list(response.profile.active_campaigns) == ["mycampaign"]
    server.stop(0)


def test_with_a_token_reads_need_it_too(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns, auth_token=TOKEN)
    request = pb.GetClientConfigRequest(player_id=sample_player)
    with channel_to(server) as channel:
        matcher = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        assert code_of(lambda: matcher.GetClientConfig(request, timeout=10)) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        response = matcher.GetClientConfig(request, timeout=10, metadata=bearer(TOKEN))
        assert list(response.profile.active_campaigns) == ["mycampaign"]
    server.stop(0)


def test_by_default_writes_are_closed_without_a_token(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    defaults = MatcherSettings()
    assert (defaults.auth_token, defaults.allow_unauthenticated_writes) == (None, False)
    server = start(store, campaigns, allow_unauthenticated_writes=False)
    create = ppb.CreateProfileRequest(profile=profile_pb2.Profile(player_id="new"))
    with channel_to(server) as channel:
        profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            profiles.CreateProfile(create, timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "--auth-token" in (info.value.details() or "")
        assert store.inner.get("new") is None
        # Reads stay open: no token is configured.
        matcher = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        response = matcher.GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player))
        assert list(response.profile.active_campaigns) == ["mycampaign"]
    server.stop(0)


def test_allowing_unauthenticated_writes_warns_at_start(
    store: SpyStore, campaigns: CampaignServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server = start(store, campaigns, allow_unauthenticated_writes=True)
    server.stop(0)
    assert "writes allowed without one" in caplog.text


def test_metrics_count_rpcs_by_code_and_the_catalog(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns)
    with channel_to(server) as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        stub.GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player))
        with pytest.raises(grpc.RpcError):
            stub.GetClientConfig(pb.GetClientConfigRequest(player_id="nobody"))
    text = generate_latest(server.metrics.registry).decode()
    server.stop(0)

    def count(code: str) -> float:
        match = re.search(
            r'grpc_server_handled_total\{[^}]*grpc_code="' + code + r'"[^}]*'
            r'grpc_method="GetClientConfig"[^}]*\} (\S+)',
            text,
        ) or re.search(
            r'grpc_server_handled_total\{[^}]*grpc_method="GetClientConfig"[^}]*'
            r'grpc_code="' + code + r'"[^}]*\} (\S+)',
            text,
        )
        assert match, text
        return float(match.group(1))

    assert (count("OK"), count("NotFound")) == (1.0, 1.0)
    assert 'profilematcher_catalog_info{version="v1"} 1.0' in text
    assert re.search(
        r'profilematcher_store_operation_seconds_count\{operation="get_many"\} 2', text
    )


def test_sigterm_stops_the_matcher_process_gracefully(
    campaigns: CampaignServer, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "matcher", "--port", "0", "--host", "127.0.0.1",
         "--campaigns", campaigns.target, "--store", str(tmp_path / "profiles.db"),
         "--drain-delay", "0.2", "--grace", "1"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PROFILE_MATCHER_METRICS_PORT": "0"},
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []

    def serving() -> None:
        line = process.stderr.readline() if process.stderr else ""
        lines.append(line)
        assert "matcher serving on port" in line

    try:
        eventually(serving, timeout=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    rest = process.stderr.read()
    assert "received SIGTERM, shutting down" in rest, "".join(lines) + rest
    # In order: drain (health NOT_SERVING, still serving), then no new calls.
    drain = rest.index("health NOT_SERVING; still serving for 0.2 s")
    assert rest.index("refusing new calls") > drain, rest
