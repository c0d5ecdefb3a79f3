"""StreamSlots and IdleLimitedStream, on plain iterators (tests/matcher has them on gRPC)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest

from services.domain.errors import Overloaded
from services.transport.streams import IdleLimitedStream, StreamSlots
from tests.matcher.fakes import eventually


def test_slots_refuse_beyond_the_limit_and_free_on_any_exit() -> None:
    slots = StreamSlots(1, what="test streams")
    with slots.hold():
        second = slots.hold()
        with pytest.raises(Overloaded, match=r"most test streams .* \(1\)"):
            second.__enter__()
    with pytest.raises(RuntimeError), slots.hold():
        raise RuntimeError("the handler failed")
    with slots.hold():  # free again after the error
        pass


def test_slots_need_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        StreamSlots(0, what="test streams")


def _read_all(requests: Iterator[int], idle_timeout: float = 5.0) -> tuple[list[int], bool, bool]:
    with IdleLimitedStream(requests, idle_timeout, name="test-reader") as stream:
        got = list(stream)
    return got, stream.idle, stream.cancelled


def test_a_stream_that_ends_is_read_to_the_end() -> None:
    assert _read_all(iter(range(200))) == (list(range(200)), False, False)


class _Cancelled(grpc.RpcError):
    pass


def test_a_call_that_breaks_off_ends_the_stream_as_cancelled() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise _Cancelled

    assert _read_all(broken()) == ([1], False, True)


def test_any_other_failure_reaches_the_handler() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise KeyError("a bug")

    with pytest.raises(KeyError, match="a bug"):
        _read_all(failing())


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "test-reader"]


def _no_reader_left() -> None:
    assert not _readers()


def test_a_silent_stream_ends_as_idle_and_its_reader_stops_with_the_call() -> None:
    call_ended = threading.Event()

    def silent() -> Iterator[int]:
        yield 1
        # gRPC's iterator waits like this until the call ends, then stops.
        call_ended.wait(timeout=10)

    assert _read_all(silent(), idle_timeout=1.0) == ([1], True, False)
    assert _readers()  # still waiting on the client...
    call_ended.set()
    eventually(_no_reader_left)  # ...until the call ends


def test_a_reader_ahead_of_a_handler_that_stopped_does_not_wait_forever() -> None:
    with IdleLimitedStream(iter(range(10_000)), 5.0, name="test-reader") as stream:
        assert next(iter(stream)) == 0  # the reader fills the queue and waits for room
    eventually(_no_reader_left)


def test_the_idle_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive, got 0"):
        IdleLimitedStream(iter(()), 0, name="test-reader")
