"""ImportProfiles streams are bounded: a few at a time, and none may stay idle for long."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeAlias

import grpc
import pytest
from grpc_status import rpc_status

from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as pb
from services.matcher.bootstrap import MatcherServer
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually
from tests.matcher.feeds import Feed

Stub = profile_service_pb2_grpc.ProfileServiceStub
# A string: grpc's Future is generic only in its type stubs.
ImportCall: TypeAlias = "grpc.Future[pb.ImportProfilesResponse]"


@pytest.fixture
def feeds() -> Iterator[list[Feed]]:
    """Feeds the test opens; all closed at the end, so no client thread waits on one."""
    opened: list[Feed] = []
    yield opened
    for feed in opened:
        feed.close()


def _serve(store: SpyStore, campaigns: CampaignServer, **settings: float) -> Iterator[Stub]:
    server: MatcherServer = start(store, campaigns, **settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield profile_service_pb2_grpc.ProfileServiceStub(channel)
    finally:
        server.stop(0)


@pytest.fixture
def idle_after_two_seconds(store: SpyStore, campaigns: CampaignServer) -> Iterator[Stub]:
    # Long enough that a burst of messages never trips it on a loaded machine.
    yield from _serve(store, campaigns, import_idle_timeout=2.0)


@pytest.fixture
def one_stream_at_a_time(store: SpyStore, campaigns: CampaignServer) -> Iterator[Stub]:
    yield from _serve(store, campaigns, max_import_streams=1, import_idle_timeout=3.0)


def _open(profiles: Stub, feeds: list[Feed]) -> tuple[Feed, ImportCall]:
    feed = Feed()
    feeds.append(feed)
    return feed, profiles.ImportProfiles.future(iter(feed), timeout=20)


def _failure(future: ImportCall) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        future.result()
    return info.value


def _import_readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "import-reader"]


def _reader_running() -> None:
    assert _import_readers(), "no import stream holds a slot yet"


def _no_reader_left() -> None:
    assert not _import_readers(), "a stream reader outlived its call"


def test_an_idle_stream_is_ended_and_what_it_sent_is_kept_and_reported(
    idle_after_two_seconds: Stub, feeds: list[Feed]
) -> None:
    profiles = idle_after_two_seconds
    profiles.CreateProfile(pb.CreateProfileRequest(profile=profile_pb2.Profile(player_id="old")))
    feed, future = _open(profiles, feeds)
    for profile in (
        profile_pb2.Profile(player_id="p1", level=3),
        profile_pb2.Profile(player_id="old", level=4),
        profile_pb2.Profile(),  # no player_id: rejected
        profile_pb2.Profile(player_id="p2"),
    ):
        feed.send(profile)
    # ...and then nothing, without ever closing the stream.
    error = _failure(future)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert error.details() == (
        "ImportProfiles: nothing received for 2 s, so the stream was ended; the 4 profiles"
        " received before were imported: 2 created, 1 updated, 1 rejected, and those are kept"
        " (the report is in the status details)"
    )
    status = rpc_status.from_call(error)
    assert status is not None
    report = pb.ImportProfilesResponse()
    assert status.details[0].Unpack(report)
    assert (report.created, report.updated, report.rejected) == (2, 1, 1)
    assert [(r.index, r.reason.split(":")[0]) for r in report.rejections] == [
        (2, "profile.player_id")
    ]
    # Kept, though they never filled a batch.
    get = profiles.GetProfile
    assert get(pb.GetProfileRequest(player_id="p1"), timeout=5).profile.level == 3
    assert get(pb.GetProfileRequest(player_id="old"), timeout=5).profile.level == 4
    assert get(pb.GetProfileRequest(player_id="p2"), timeout=5).profile.player_id == "p2"
    eventually(_no_reader_left)


def test_an_idle_streams_details_keep_only_the_first_rejections_that_fit(
    idle_after_two_seconds: Stub, feeds: list[Feed]
) -> None:
    feed, future = _open(idle_after_two_seconds, feeds)
    for _ in range(300):  # far more reasons than trailing metadata may carry
        feed.send(profile_pb2.Profile())
    error = _failure(future)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "300 rejected" in (error.details() or "")
    status = rpc_status.from_call(error)
    assert status is not None
    report = pb.ImportProfilesResponse()
    assert status.details[0].Unpack(report)
    assert report.rejected == 300
    assert 0 < len(report.rejections) < 300
    assert [r.index for r in report.rejections] == list(range(len(report.rejections)))


def _code(future: ImportCall) -> grpc.StatusCode:
    try:
        future.result()
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return grpc.StatusCode.OK


def _code_once_a_slot_frees(call: Callable[[], ImportCall]) -> grpc.StatusCode:
    """The code of `call`, made again while it is refused for want of a slot (a call the
    client cancelled frees its slot when the server hears of it, a moment later)."""
    deadline = time.monotonic() + 10
    while (code := _code(call())) == grpc.StatusCode.RESOURCE_EXHAUSTED:
        assert time.monotonic() < deadline, "the slot was never freed"
        time.sleep(0.05)
    return code


def _open_sending(profiles: Stub, feeds: list[Feed], player_id: str) -> ImportCall:
    """A stream of one profile, closed at once."""
    feed, future = _open(profiles, feeds)
    feed.send(profile_pb2.Profile(player_id=player_id))
    feed.close()
    return future


def test_streams_beyond_the_cap_are_refused_and_every_ending_frees_the_slot(
    one_stream_at_a_time: Stub, store: SpyStore, feeds: list[Feed]
) -> None:
    profiles = one_stream_at_a_time
    # Refused while another stream holds the slot; the holder is unaffected.
    holder, held = _open(profiles, feeds)
    eventually(_reader_running)
    refused = _failure(_open(profiles, feeds)[1])
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.details() == (
        "the most ImportProfiles streams allowed at once (1) are in progress;"
        " retry when one has ended"
    )
    holder.send(profile_pb2.Profile(player_id="a"))
    holder.close()
    assert held.result().created == 1  # a normal end frees the slot...

    store.down = True  # ...so does a store error
    assert _code(_open_sending(profiles, feeds, "b")) == grpc.StatusCode.UNAVAILABLE
    store.down = False

    _, cancelled = _open(profiles, feeds)  # ...and a call the client cancels
    eventually(_reader_running)
    cancelled.cancel()
    idle = _code_once_a_slot_frees(lambda: _open(profiles, feeds)[1])
    assert idle == grpc.StatusCode.DEADLINE_EXCEEDED  # ...and an idle stream, ended

    assert _open_sending(profiles, feeds, "c").result().created == 1
    eventually(_no_reader_left)
