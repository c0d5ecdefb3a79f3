"""The matcher as its process wires it (settings in: TLS files, a token), on each of
its servers (`io`): both bind with the TLS the settings name, check the token before
the message size, and count their refusals in the metrics by code."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from services.matcher.bootstrap import MatcherServer, start_matcher
from services.matcher.settings import MatcherSettings
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions
from services.transport.tls import ClientTLSSettings, TLSSettings, open_channel
from tests.matcher.fakes import NOW, CampaignServer
from tests.observability.conftest import value
from tests.rpc import bearer, code_of
from tests.security.pki import PKI

TOKEN = "0123456789abcdef-matcher-token"
WRONG = "0123456789abcdef-wrong-token"
SERVING = health_pb2.HealthCheckResponse.SERVING
Start = Callable[..., MatcherServer]


@pytest.fixture
def start(io: str, campaigns: CampaignServer, sample_store: SQLiteProfileStore) -> Iterator[Start]:
    """Starts a matcher over the sample store on the server `io` names, with the
    settings given; every one is stopped after."""
    started: list[MatcherServer] = []

    def start(**settings: Any) -> MatcherServer:
        server = start_matcher(
            MatcherSettings(
                **{
                    "io": io,
                    "server": ServerOptions(host="127.0.0.1", port=0, grace_seconds=0),
                    "campaigns_target": campaigns.target,
                    "watch_campaigns": False,
                    **settings,
                }
            ),
            sample_store,
            clock=lambda: NOW,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(0)


@pytest.fixture
def player(sample_profile_doc: dict[str, Any]) -> str:
    player_id: str = sample_profile_doc["player_id"]
    return player_id


def health(channel: grpc.Channel) -> int:
    request = health_pb2.HealthCheckRequest()
    status: int = health_pb2_grpc.HealthStub(channel).Check(request, timeout=10).status
    return status


def handled(server: MatcherServer, method: str, code: str) -> float:
    return value(
        server.metrics.registry, "grpc_server_handled_total", grpc_method=method, grpc_code=code
    )


def test_mutual_tls_and_a_token_from_the_settings(start: Start, pki: PKI, player: str) -> None:
    trusted = pki.trusted
    server = start(
        tls=TLSSettings(trusted.server.cert, trusted.server.key, trusted.ca), auth_token=TOKEN
    )
    address = f"127.0.0.1:{server.port}"
    for refused in (ClientTLSSettings(), ClientTLSSettings(ca_file=trusted.ca)):
        # Plaintext, then TLS without the client certificate mutual TLS requires.
        with open_channel(address, refused) as channel:
            assert code_of(lambda: health(channel)) == grpc.StatusCode.UNAVAILABLE
    client = ClientTLSSettings(trusted.ca, trusted.client.cert, trusted.client.key)
    with open_channel(address, client) as channel:
        assert health(channel) == SERVING  # probes carry no token
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        request = pb.GetClientConfigRequest(player_id=player)
        call = lambda: stub.GetClientConfig(request, timeout=10)  # noqa: E731
        assert code_of(call) == grpc.StatusCode.UNAUTHENTICATED
        answer = stub.GetClientConfig(request, timeout=10, metadata=bearer(TOKEN))
        assert list(answer.profile.active_campaigns) == ["mycampaign"]


def test_refusals_are_counted_by_their_code(start: Start, player: str) -> None:
    server = start(auth_token=TOKEN)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        request = pb.GetClientConfigRequest(player_id=player)
        for metadata in ((), bearer(WRONG), bearer(WRONG), bearer(TOKEN)):
            with contextlib.suppress(grpc.RpcError):
                stub.GetClientConfig(request, timeout=10, metadata=metadata)
        profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
        imports = iter([ppb.ImportProfilesRequest(profile=profile_pb2.Profile(player_id="new"))])
        assert code_of(lambda: profiles.ImportProfiles(imports, timeout=10)) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
    counted = {
        code: handled(server, "GetClientConfig", code)
        for code in ("Unauthenticated", "PermissionDenied", "OK")
    }
    assert counted == {"Unauthenticated": 1, "PermissionDenied": 2, "OK": 1}
    assert handled(server, "ImportProfiles", "Unauthenticated") == 1


def test_writes_closed_are_counted(start: Start) -> None:
    server = start()  # no token, writes not allowed without one
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
        request = ppb.CreateProfileRequest(profile=profile_pb2.Profile(player_id="new"))
        call = lambda: profiles.CreateProfile(request, timeout=10)  # noqa: E731
        assert code_of(call) == grpc.StatusCode.UNAUTHENTICATED
    assert handled(server, "CreateProfile", "Unauthenticated") == 1


def oversized_create() -> ppb.CreateProfileRequest:
    profile = profile_pb2.Profile(player_id="big")
    profile.custom_fields["_blob"].string_value = "x" * 3000
    return ppb.CreateProfileRequest(profile=profile)


def test_the_token_is_checked_before_the_message_size(
    start: Start, sample_store: SQLiteProfileStore
) -> None:
    # Whoever has no token learns nothing of the limits.
    server = start(
        auth_token=TOKEN,
        server=ServerOptions(host="127.0.0.1", max_message_bytes=2048, grace_seconds=0),
    )
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)

        def create(metadata: tuple[tuple[str, str], ...]) -> object:
            return profiles.CreateProfile(oversized_create(), timeout=10, metadata=metadata)

        assert code_of(lambda: create(())) == grpc.StatusCode.UNAUTHENTICATED
        assert code_of(lambda: create(bearer(WRONG))) == grpc.StatusCode.PERMISSION_DENIED
        assert code_of(lambda: create(bearer(TOKEN))) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sample_store.get("big") is None
