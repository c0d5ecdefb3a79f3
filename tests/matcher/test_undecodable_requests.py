"""Request bytes that do not parse (here: a custom field nested past protobuf's
limit, which any client can build) are INVALID_ARGUMENT and change nothing, never
grpcio's INTERNAL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.struct_value import set_json_value
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore

PROFILES = "/profilematcher.profiles.v1.ProfileService"
MATCHER = "/profilematcher.matcher.v1.ProfileMatcherService"


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, written by hand: the Python message refuses
    to hold what these tests send."""
    length, size = b"", len(payload)
    while True:
        low, size = size & 0x7F, size >> 7
        length += bytes([low | 0x80 if size else low])
        if not size:
            return bytes([number << 3 | 2]) + length + payload


def deep_profile(player_id: str, levels: int) -> bytes:
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    message = profile_pb2.Profile(player_id=player_id)
    set_json_value(message.custom_fields["_tree"], value)  # built in place: no parse
    return message.SerializeToString()


@pytest.fixture
def channel(store: SpyStore, campaigns: CampaignServer) -> Iterator[grpc.Channel]:
    server = start(store, campaigns)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel
    server.stop(0)


@pytest.mark.parametrize(
    ("method", "request_bytes"),
    [
        (f"{PROFILES}/CreateProfile", _field(1, deep_profile("p", 60))),
        (f"{PROFILES}/UpdateProfile", _field(1, deep_profile("p", 60))),
        (f"{MATCHER}/MatchProfile", _field(1, deep_profile("p", 60))),
        (f"{PROFILES}/GetProfile", b"\xff\xff\xff"),
        (f"{MATCHER}/GetClientConfig", b"\x0a\x05ab"),
    ],
    ids=["create", "update", "match", "garbage", "truncated"],
)
def test_an_undecodable_request_is_invalid_argument(
    channel: grpc.Channel, store: SpyStore, method: str, request_bytes: bytes
) -> None:
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)

    with pytest.raises(grpc.RpcError) as info:
        call(request_bytes, timeout=10)

    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("request: not a valid request message")
    assert store.inner.get_many(["p"]) == {}


def test_an_undecodable_import_record_is_invalid_argument_and_imports_nothing(
    channel: grpc.Channel, store: SpyStore
) -> None:
    call: grpc.StreamUnaryMultiCallable[bytes, bytes] = channel.stream_unary(
        f"{PROFILES}/ImportProfiles"
    )
    good = _field(1, profile_pb2.Profile(player_id="good").SerializeToString())

    with pytest.raises(grpc.RpcError) as info:
        call(iter([good, _field(1, deep_profile("p", 60))]), timeout=10)

    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("request: not a valid request message")
    assert store.inner.get_many(["good", "p"]) == {}
