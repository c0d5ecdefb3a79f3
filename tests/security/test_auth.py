"""Bearer tokens on the real ProfileService and ProfileMatcherService, in process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as matcher_pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as pb
from services.codecs.profile_message import profile_to_message
from services.codecs.profile_view import MessageView
from services.domain.campaign import Catalog
from services.domain.errors import StoredProfileCorrupt
from services.domain.profile import Profile
from services.matcher.access import (
    PROFILE_WRITE_METHODS,
    WRITES_CLOSED,
    auth_interceptors,
    write_methods_of_profile_service,
)
from services.matcher.bootstrap import SERVICE_NAMES
from services.matcher.client_config import ServeClientConfig
from services.matcher.dry_run import MatchDryRun
from services.matcher.servicer import ProfileMatcherServicer
from services.matching.compiled import CompiledCatalog
from services.profiles.servicer import ProfileServicer
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.auth import (
    BearerTokenInterceptor,
    WritesClosedInterceptor,
    all_methods_except_health_and_reflection,
    token_interceptors,
)
from services.transport.tls import ClientTLSSettings, TLSSettings, open_channel, server_credentials
from tests.matcher.fakes import NOW, sample_campaign
from tests.rpc import bearer, code_of
from tests.security.conftest import Serve, target
from tests.security.pki import PKI

TOKEN = "0123456789abcdef-right-token"
WRONG = "0123456789abcdef-wrong-token"
NEW_PLAYER = "new-player"
Metadata = tuple[tuple[str, str | bytes], ...]
ProfileStub = profile_service_pb2_grpc.ProfileServiceStub

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED


class FixedCatalog:
    """The CatalogSource of the matcher's use cases, without a campaign service behind it."""

    def __init__(self) -> None:
        self._compiled = CompiledCatalog(Catalog(version="v1", campaigns=(sample_campaign(),)))

    def current(self, *, timeout: float | None = None) -> CompiledCatalog:
        return self._compiled


@pytest.fixture
def store(sample_store: SQLiteProfileStore) -> SQLiteProfileStore:
    return sample_store


@pytest.fixture
def player(sample_profile_doc: dict[str, Any]) -> str:
    player_id: str = sample_profile_doc["player_id"]
    return player_id


def start_matcher_like(
    serve: Serve,
    store: SQLiteProfileStore,
    interceptors: Sequence[grpc.ServerInterceptor],
    credentials: grpc.ServerCredentials | None = None,
) -> str:
    """Both of the matcher process's services, over the real servicers."""

    def register(server: grpc.Server) -> Sequence[str]:
        configs = ServeClientConfig(store, FixedCatalog(), lambda: NOW, document=MessageView)
        dry_runs = MatchDryRun(FixedCatalog(), lambda: NOW)
        matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
            ProfileMatcherServicer(configs, dry_runs), server
        )
        profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(
            ProfileServicer(store), server
        )
        return SERVICE_NAMES

    return target(serve(interceptors=interceptors, register=register, credentials=credentials))


@pytest.fixture
def channel(serve: Serve, store: SQLiteProfileStore) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(start_matcher_like(serve, store, auth_interceptors(TOKEN))) as ch:
        yield ch


@pytest.fixture
def profiles(channel: grpc.Channel) -> ProfileStub:
    return ProfileStub(channel)


def new_profile(sample: Profile) -> profile_pb2.Profile:
    message = profile_to_message(sample)
    message.player_id = NEW_PLAYER
    return message


# Each write, as a call that would change the store if it were let through.
Write = Callable[[ProfileStub, Profile, Metadata], object]


def create(stub: ProfileStub, sample: Profile, metadata: Metadata) -> object:
    request = pb.CreateProfileRequest(profile=new_profile(sample))
    return stub.CreateProfile(request, metadata=metadata, timeout=10)


def update(stub: ProfileStub, sample: Profile, metadata: Metadata) -> object:
    request = pb.UpdateProfileRequest(
        profile=profile_pb2.Profile(player_id=sample.player_id, level=99),
        update_mask=field_mask_pb2.FieldMask(paths=["level"]),
    )
    return stub.UpdateProfile(request, metadata=metadata, timeout=10)


def delete(stub: ProfileStub, sample: Profile, metadata: Metadata) -> object:
    request = pb.DeleteProfileRequest(player_id=sample.player_id)
    return stub.DeleteProfile(request, metadata=metadata, timeout=10)


def import_(stub: ProfileStub, sample: Profile, metadata: Metadata) -> object:
    requests = iter([pb.ImportProfilesRequest(profile=new_profile(sample))])
    return stub.ImportProfiles(requests, metadata=metadata, timeout=10)


WRITES = pytest.mark.parametrize("write", [create, update, delete, import_])


def snapshot(store: SQLiteProfileStore, player: str) -> dict[str, Profile | StoredProfileCorrupt]:
    return store.get_many([player, NEW_PLAYER])


@pytest.fixture
def sample(store: SQLiteProfileStore, player: str) -> Profile:
    profile = store.get(player)
    assert profile is not None
    return profile


# --- writes ---------------------------------------------------------------------------


@WRITES
def test_write_without_header_is_unauthenticated_and_changes_nothing(
    write: Write, profiles: ProfileStub, store: SQLiteProfileStore, sample: Profile
) -> None:
    before = snapshot(store, sample.player_id)
    assert code_of(lambda: write(profiles, sample, ())) == UNAUTHENTICATED
    assert snapshot(store, sample.player_id) == before


@WRITES
def test_write_with_wrong_token_is_permission_denied_and_changes_nothing(
    write: Write, profiles: ProfileStub, store: SQLiteProfileStore, sample: Profile
) -> None:
    before = snapshot(store, sample.player_id)
    assert code_of(lambda: write(profiles, sample, bearer(WRONG))) == PERMISSION_DENIED
    assert snapshot(store, sample.player_id) == before


@WRITES
def test_write_with_right_token_goes_through(
    write: Write, profiles: ProfileStub, store: SQLiteProfileStore, sample: Profile
) -> None:
    before = snapshot(store, sample.player_id)
    write(profiles, sample, bearer(TOKEN))
    assert snapshot(store, sample.player_id) != before


def test_import_with_right_token_creates_the_profile(
    profiles: ProfileStub, store: SQLiteProfileStore, sample: Profile
) -> None:
    response = import_(profiles, sample, bearer(TOKEN))
    assert isinstance(response, pb.ImportProfilesResponse)
    assert (response.created, response.rejected) == (1, 0)
    assert store.get(NEW_PLAYER) is not None


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param((("authorization", TOKEN),), id="no-scheme"),
        pytest.param((("authorization", f"Basic {TOKEN}"),), id="basic"),
        pytest.param((("authorization", f"Token {TOKEN}"),), id="other-scheme"),
        pytest.param((("authorization", "Bearer"),), id="scheme-only"),
        pytest.param((("authorization", "Bearer   "),), id="blank-token"),
        pytest.param((("authorization", ""),), id="empty"),
        pytest.param((*bearer(TOKEN), *bearer(TOKEN)), id="twice"),
        pytest.param((("x-api-key", TOKEN),), id="other-header"),
    ],
)
def test_malformed_authorization_is_unauthenticated(
    metadata: Metadata, profiles: ProfileStub, store: SQLiteProfileStore, sample: Profile
) -> None:
    assert code_of(lambda: create(profiles, sample, metadata)) == UNAUTHENTICATED
    assert store.get(NEW_PLAYER) is None


@pytest.mark.parametrize(
    "value",
    [f"bearer {TOKEN}", f"BEARER {TOKEN}", f"Bearer  {TOKEN} "],
    ids=["lower", "upper", "extra-spaces"],
)
def test_scheme_is_case_insensitive_and_spacing_lenient(
    value: str, profiles: ProfileStub, store: SQLiteProfileStore, sample: Profile
) -> None:
    create(profiles, sample, (("authorization", value),))
    assert store.get(NEW_PLAYER) is not None


def test_prefix_of_the_token_is_permission_denied(
    profiles: ProfileStub, store: SQLiteProfileStore, sample: Profile
) -> None:
    assert code_of(lambda: create(profiles, sample, bearer(TOKEN[:-1]))) == PERMISSION_DENIED
    assert code_of(lambda: create(profiles, sample, bearer(TOKEN + "x"))) == PERMISSION_DENIED
    assert store.get(NEW_PLAYER) is None


# What a client reads for each refusal, word for word: the same on both servers.
Refusal = tuple[Metadata, tuple[grpc.StatusCode, str]]
REFUSALS = pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(((), (UNAUTHENTICATED, "missing 'authorization: Bearer <token>'")), id="none"),
        pytest.param(
            (
                (*bearer(TOKEN), *bearer(TOKEN)),
                (UNAUTHENTICATED, "more than one authorization header"),
            ),
            id="twice",
        ),
        pytest.param(
            (
                (("authorization", f"Basic {TOKEN}"),),
                (UNAUTHENTICATED, "authorization is not 'Bearer <token>'"),
            ),
            id="basic",
        ),
        pytest.param((bearer(WRONG), (PERMISSION_DENIED, "invalid bearer token")), id="wrong"),
    ],
)


def refusal_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details() or ""


@REFUSALS
@WRITES
def test_each_refused_write_says_why(
    write: Write,
    refusal: Refusal,
    profiles: ProfileStub,
    store: SQLiteProfileStore,
    sample: Profile,
) -> None:
    metadata, status = refusal
    before = snapshot(store, sample.player_id)
    assert refusal_of(lambda: write(profiles, sample, metadata)) == status
    assert snapshot(store, sample.player_id) == before


def test_refused_request_is_never_parsed(channel: grpc.Channel) -> None:
    # Bytes that are no CreateProfileRequest: parsing them fails with INVALID_ARGUMENT.
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/profilematcher.profiles.v1.ProfileService/CreateProfile"
    )
    garbage = b"\xff\xff\xff\xff"
    assert code_of(lambda: call(garbage, timeout=10)) == UNAUTHENTICATED
    assert code_of(lambda: call(garbage, metadata=bearer(TOKEN), timeout=10)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


# --- public reads ---------------------------------------------------------------------


@pytest.fixture
def public(serve: Serve, store: SQLiteProfileStore) -> Iterator[grpc.Channel]:
    address = start_matcher_like(serve, store, auth_interceptors(TOKEN, public_reads=True))
    with grpc.insecure_channel(address) as channel:
        yield channel


def test_get_profile_needs_no_token(public: grpc.Channel, player: str) -> None:
    response = ProfileStub(public).GetProfile(pb.GetProfileRequest(player_id=player), timeout=10)
    assert response.profile.player_id == player


def test_get_profile_errors_are_the_services_own(public: grpc.Channel) -> None:
    # Not refused by the interceptor: the servicer answers, even for an unknown player.
    profiles = ProfileStub(public)
    call = lambda: profiles.GetProfile(pb.GetProfileRequest(player_id="nobody"), timeout=10)  # noqa: E731
    assert code_of(call) == grpc.StatusCode.NOT_FOUND


def test_profile_matcher_service_needs_no_token(public: grpc.Channel, player: str) -> None:
    stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(public)
    response = stub.GetClientConfig(matcher_pb.GetClientConfigRequest(player_id=player), timeout=10)
    assert list(response.profile.active_campaigns) == ["mycampaign"]


def test_public_reads_still_guard_writes(
    public: grpc.Channel, store: SQLiteProfileStore, sample: Profile
) -> None:
    stub = ProfileStub(public)
    assert code_of(lambda: import_(stub, sample, ())) == UNAUTHENTICATED
    assert code_of(lambda: import_(stub, sample, bearer(WRONG))) == PERMISSION_DENIED
    assert store.get(NEW_PLAYER) is None
    create(stub, sample, bearer(TOKEN))
    assert store.get(NEW_PLAYER) is not None


def test_unknown_method_is_unimplemented_not_refused(channel: grpc.Channel) -> None:
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        "/profilematcher.profiles.v1.ProfileService/DropEverything"
    )
    assert code_of(lambda: call(b"", timeout=10)) == grpc.StatusCode.UNIMPLEMENTED


# --- with a token, reads need it too -------------------------------------------------

# Each read, as a call that answers with a stored or matched profile's data; returns
# what identifies the answer (the player, or the catalog a dry run matched against).
Read = Callable[[grpc.Channel, str, Metadata], str]


def get_profile(channel: grpc.Channel, player: str, metadata: Metadata) -> str:
    request = pb.GetProfileRequest(player_id=player)
    return ProfileStub(channel).GetProfile(request, metadata=metadata, timeout=10).profile.player_id


def get_client_config(channel: grpc.Channel, player: str, metadata: Metadata) -> str:
    stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
    request = matcher_pb.GetClientConfigRequest(player_id=player)
    return stub.GetClientConfig(request, metadata=metadata, timeout=10).profile.player_id


def batch_get_client_config(channel: grpc.Channel, player: str, metadata: Metadata) -> str:
    stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
    request = matcher_pb.BatchGetClientConfigRequest(player_ids=[player])
    response = stub.BatchGetClientConfig(request, metadata=metadata, timeout=10)
    return response.results[0].profile.player_id


def match_profile(channel: grpc.Channel, player: str, metadata: Metadata) -> str:
    stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
    request = matcher_pb.MatchProfileRequest(profile=profile_pb2.Profile(player_id=player))
    return stub.MatchProfile(request, metadata=metadata, timeout=10).catalog_version


READS = pytest.mark.parametrize(
    "read", [get_profile, get_client_config, batch_get_client_config, match_profile]
)


@pytest.fixture
def guarded(serve: Serve, store: SQLiteProfileStore) -> Iterator[grpc.Channel]:
    address = start_matcher_like(serve, store, auth_interceptors(TOKEN))
    with grpc.insecure_channel(address) as channel:
        yield channel


@READS
def test_with_a_token_reads_without_it_are_unauthenticated(
    read: Read, guarded: grpc.Channel, player: str
) -> None:
    assert code_of(lambda: read(guarded, player, ())) == UNAUTHENTICATED


@READS
def test_with_a_token_reads_with_a_wrong_one_are_permission_denied(
    read: Read, guarded: grpc.Channel, player: str
) -> None:
    assert code_of(lambda: read(guarded, player, bearer(WRONG))) == PERMISSION_DENIED


@READS
def test_with_a_token_reads_with_it_are_answered(
    read: Read, guarded: grpc.Channel, player: str
) -> None:
    assert read(guarded, player, bearer(TOKEN)) in {player, "v1"}


@REFUSALS
@READS
def test_each_refused_read_says_why(
    read: Read, refusal: Refusal, guarded: grpc.Channel, player: str
) -> None:
    metadata, status = refusal
    assert refusal_of(lambda: read(guarded, player, metadata)) == status


def test_guarded_reads_still_guard_writes(
    guarded: grpc.Channel, store: SQLiteProfileStore, sample: Profile
) -> None:
    stub = ProfileStub(guarded)
    assert code_of(lambda: import_(stub, sample, ())) == UNAUTHENTICATED
    assert code_of(lambda: import_(stub, sample, bearer(WRONG))) == PERMISSION_DENIED
    assert store.get(NEW_PLAYER) is None


def test_a_token_leaves_health_and_reflection_open(guarded: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(guarded).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(guarded)
    responses = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
    )
    listed = {s.name for r in responses for s in r.list_services_response.service}
    assert set(SERVICE_NAMES) <= listed


# --- no token: writes closed unless the operator opts out ----------------------------


@pytest.fixture
def closed(serve: Serve, store: SQLiteProfileStore) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(start_matcher_like(serve, store, auth_interceptors(None))) as ch:
        yield ch


@WRITES
def test_without_a_token_writes_are_refused_saying_how_to_set_one(
    write: Write, closed: grpc.Channel, store: SQLiteProfileStore, sample: Profile
) -> None:
    before = snapshot(store, sample.player_id)
    with pytest.raises(grpc.RpcError) as info:
        write(ProfileStub(closed), sample, ())
    assert info.value.code() == UNAUTHENTICATED
    details = info.value.details() or ""
    assert details == WRITES_CLOSED
    for name in ("--auth-token", "PROFILE_MATCHER_AUTH_TOKEN", "--allow-unauthenticated-writes"):
        assert name in details
    assert snapshot(store, sample.player_id) == before


@READS
def test_without_a_token_reads_are_open(read: Read, closed: grpc.Channel, player: str) -> None:
    assert read(closed, player, ()) in {player, "v1"}


@WRITES
def test_allowing_unauthenticated_writes_opens_them_and_warns(
    write: Write,
    serve: Serve,
    store: SQLiteProfileStore,
    sample: Profile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="services.matcher.access")
    interceptors = auth_interceptors(None, allow_unauthenticated_writes=True)
    assert "anyone who reaches this server can create, change and delete" in caplog.text
    before = snapshot(store, sample.player_id)
    with grpc.insecure_channel(start_matcher_like(serve, store, interceptors)) as channel:
        write(ProfileStub(channel), sample, ())
    assert snapshot(store, sample.player_id) != before


# --- logging --------------------------------------------------------------------------


def test_refusals_are_logged_without_the_token(
    profiles: ProfileStub, sample: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="services.transport.auth")
    code_of(lambda: create(profiles, sample, ()))
    code_of(lambda: create(profiles, sample, bearer(WRONG)))
    code_of(lambda: import_(profiles, sample, (("authorization", f"Basic {WRONG}"),)))
    refusals = [r for r in caplog.records if r.name == "services.transport.auth"]
    assert len(refusals) == 3
    messages = [r.getMessage() for r in refusals]
    assert "/profilematcher.profiles.v1.ProfileService/CreateProfile" in messages[0]
    assert "missing" in messages[0]
    assert "invalid bearer token" in messages[1]
    assert "/profilematcher.profiles.v1.ProfileService/ImportProfiles" in messages[2]
    # The peer, so an operator can tell who is knocking.
    assert all("127.0.0.1" in m for m in messages)
    assert WRONG not in caplog.text
    assert TOKEN not in caplog.text
    # Nor any recognisable piece of one.
    assert "0123456789abcdef" not in caplog.text


def test_accepted_calls_are_not_logged(
    profiles: ProfileStub, sample: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="services.transport.auth")
    create(profiles, sample, bearer(TOKEN))
    assert not [r for r in caplog.records if r.name == "services.transport.auth"]


# --- token and TLS together -----------------------------------------------------------


def test_token_over_mutual_tls(
    serve: Serve, store: SQLiteProfileStore, sample: Profile, pki: PKI
) -> None:
    tls = TLSSettings(pki.trusted.server.cert, pki.trusted.server.key, pki.trusted.ca)
    address = start_matcher_like(serve, store, auth_interceptors(TOKEN), server_credentials(tls))
    client_tls = ClientTLSSettings(
        ca_file=pki.trusted.ca, cert_file=pki.trusted.client.cert, key_file=pki.trusted.client.key
    )
    with open_channel(address, client_tls) as channel:
        stub = ProfileStub(channel)
        assert code_of(lambda: create(stub, sample, bearer(WRONG))) == PERMISSION_DENIED
        create(stub, sample, bearer(TOKEN))
    assert store.get(NEW_PLAYER) is not None


# --- the building blocks --------------------------------------------------------------


def test_the_protected_writes_are_exactly_the_four() -> None:
    service = "/profilematcher.profiles.v1.ProfileService/"
    assert {service + m for m in ("CreateProfile", "UpdateProfile", "DeleteProfile")} | {
        service + "ImportProfiles"
    } == PROFILE_WRITE_METHODS
    assert not write_methods_of_profile_service(service + "GetProfile")
    assert not write_methods_of_profile_service(
        "/profilematcher.matcher.v1.ProfileMatcherService/GetClientConfig"
    )


@pytest.mark.parametrize(
    ("method", "protected"),
    [
        ("/grpc.health.v1.Health/Check", False),
        ("/grpc.health.v1.Health/Watch", False),
        ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", False),
        ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", False),
        ("/profilematcher.profiles.v1.ProfileService/GetProfile", True),
        ("/profilematcher.matcher.v1.ProfileMatcherService/MatchProfile", True),
        ("/profilematcher.campaigns.v1.CampaignService/ListCampaigns", True),
    ],
)
def test_all_methods_except_health_and_reflection(method: str, protected: bool) -> None:
    assert all_methods_except_health_and_reflection(method) is protected


def test_no_token_means_writes_closed() -> None:
    for token in (None, ""):
        [interceptor] = auth_interceptors(token)
        assert isinstance(interceptor, WritesClosedInterceptor)


def test_no_token_and_writes_allowed_means_no_interceptor() -> None:
    assert auth_interceptors(None, allow_unauthenticated_writes=True) == []


def test_service_token_guards_every_method_but_health_and_reflection() -> None:
    assert token_interceptors(None) == []
    [interceptor] = token_interceptors(TOKEN)
    assert isinstance(interceptor, BearerTokenInterceptor)


@pytest.mark.parametrize("token", ["", "with space", "tab\there", "naïve-token-0123456789"])
def test_token_that_cannot_be_a_header_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="auth token"):
        BearerTokenInterceptor(token, write_methods_of_profile_service)


def test_short_token_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="services.transport.auth")
    BearerTokenInterceptor("tiny-secret", write_methods_of_profile_service)
    assert "fewer than 16 characters" in caplog.text
    assert "tiny-secret" not in caplog.text
