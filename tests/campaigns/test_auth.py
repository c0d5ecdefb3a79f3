"""The campaign service's optional token, and the matcher that sends it (end to end)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from profilematcher.campaigns.v1 import campaign_service_pb2 as pb
from profilematcher.campaigns.v1 import campaign_service_pb2_grpc
from profilematcher.matcher.v1 import matcher_service_pb2, matcher_service_pb2_grpc
from services.campaigns import main
from services.campaigns.bootstrap import CampaignServer
from services.campaigns.servicer import SERVICE_NAME
from services.campaigns.settings import CampaignSettings, campaign_service_token_from_args
from services.matcher.bootstrap import MatcherServer, start_matcher
from services.matcher.settings import MatcherSettings
from services.server_flags import CAMPAIGNS_TOKEN_ENV
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions
from tests.campaigns.conftest import parse_args, wait_until, write_atomically
from tests.rpc import bearer, code_of

TOKEN = "0123456789abcdef-campaigns-token"
WRONG = "0123456789abcdef-wrong-token"
Metadata = tuple[tuple[str, str], ...]
Stub = campaign_service_pb2_grpc.CampaignServiceStub
# Inside the conftest catalog's windows (2022).
MID_2022 = datetime(2022, 6, 1, tzinfo=UTC)


@pytest.fixture
def settings(settings: CampaignSettings) -> CampaignSettings:
    """The conftest's server (and its channel) wants the token."""
    return dataclasses.replace(settings, auth_token=TOKEN)


def list_campaigns(stub: Stub, metadata: Metadata) -> str:
    return stub.ListCampaigns(pb.ListCampaignsRequest(), metadata=metadata, timeout=5).version


def first_watched(stub: Stub, metadata: Metadata) -> str:
    call = stub.WatchCampaigns(pb.WatchCampaignsRequest(), metadata=metadata, timeout=5)
    try:
        return next(call).version
    finally:
        call.cancel()


@pytest.mark.parametrize("rpc", [list_campaigns, first_watched])
def test_a_token_guards_list_and_watch(
    rpc: Callable[[Stub, Metadata], str], channel: grpc.Channel, server: CampaignServer
) -> None:
    stub = Stub(channel)
    assert code_of(lambda: rpc(stub, ())) == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: rpc(stub, bearer(WRONG))) == grpc.StatusCode.PERMISSION_DENIED
    assert rpc(stub, bearer(TOKEN)) == server.served.current.catalog.version


def test_a_token_leaves_health_and_reflection_open(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    responses = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    assert SERVICE_NAME in {s.name for r in responses for s in r.list_services_response.service}


# --- the matcher as the campaign service's client -------------------------------------


@pytest.fixture
def start(
    server: CampaignServer, sample_store: SQLiteProfileStore
) -> Iterator[Callable[..., MatcherServer]]:
    started: list[MatcherServer] = []

    def start_one(**settings: Any) -> MatcherServer:
        matcher = start_matcher(
            MatcherSettings(
                server=ServerOptions(host="127.0.0.1", port=0, grace_seconds=0),
                campaigns_target=f"127.0.0.1:{server.port}",
                # Only the watch stream can bring a new catalog within the test.
                catalog_ttl=3600.0,
                campaigns_timeout=5.0,
                **settings,
            ),
            sample_store,
            clock=lambda: MID_2022,
        )
        started.append(matcher)
        return matcher

    yield start_one
    for matcher in started:
        matcher.stop(0)


def active_campaigns(matcher: MatcherServer, player: str) -> list[str]:
    with grpc.insecure_channel(f"127.0.0.1:{matcher.port}") as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        request = matcher_service_pb2.GetClientConfigRequest(player_id=player)
        return list(stub.GetClientConfig(request, timeout=5).profile.active_campaigns)


def test_a_matcher_with_the_token_fetches_the_catalog(
    start: Callable[..., MatcherServer], sample_profile_doc: dict[str, Any]
) -> None:
    # No watch stream: ListCampaigns is the only way the catalog can arrive.
    matcher = start(campaigns_auth_token=TOKEN, watch_campaigns=False)
    assert "mycampaign" in active_campaigns(matcher, sample_profile_doc["player_id"])


def test_a_matcher_with_the_token_watches_the_catalog(
    start: Callable[..., MatcherServer],
    catalog_path: Path,
    catalog_docs: list[dict[str, Any]],
    campaign_doc: Callable[..., dict[str, Any]],
    sample_profile_doc: dict[str, Any],
) -> None:
    player = sample_profile_doc["player_id"]
    matcher = start(campaigns_auth_token=TOKEN)
    before = active_campaigns(matcher, player)
    assert "mycampaign" in before

    write_atomically(catalog_path, [*catalog_docs, campaign_doc(name="flash", priority=99)])

    wait_until(lambda: "flash" in active_campaigns(matcher, player))
    assert active_campaigns(matcher, player) == ["flash", *before]


def test_a_matcher_without_the_token_gets_no_catalog(
    start: Callable[..., MatcherServer],
    sample_profile_doc: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="services.matcher.bootstrap")
    matcher = start()
    with pytest.raises(grpc.RpcError) as info:
        active_campaigns(matcher, sample_profile_doc["player_id"])
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "campaign service: UNAUTHENTICATED" in caplog.text


# --- `profile-matcher campaigns --auth-token` ------------------------------------------


@pytest.fixture(autouse=True)
def _no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAMPAIGNS_TOKEN_ENV, raising=False)
    monkeypatch.delenv(f"{CAMPAIGNS_TOKEN_ENV}_FILE", raising=False)


def test_token_flags_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert campaign_service_token_from_args(parse_args()) is None
    assert campaign_service_token_from_args(parse_args("--auth-token", TOKEN)) == TOKEN
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    args = parse_args("--auth-token-file", str(token_file))
    assert campaign_service_token_from_args(args) == TOKEN
    monkeypatch.setenv(CAMPAIGNS_TOKEN_ENV, TOKEN)
    assert campaign_service_token_from_args(parse_args()) == TOKEN


def test_run_with_an_empty_token_file_exits_2(
    catalog_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    args = parse_args(
        "--catalog", str(catalog_path), "--port", "0", "--auth-token-file", str(empty)
    )
    assert main.run(args) == 2
    assert capsys.readouterr().err == (
        f"profile-matcher campaigns: auth token file {empty} is empty\n"
    )
