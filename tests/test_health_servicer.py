"""services/transport/health_servicer.py: a Watch that ends while the status is being
sent to watchers does not wait behind that send (grpc_health's own servicer
deadlocks there on the threaded server), and watchers still get every status in order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from grpc_health.v1 import health, health_pb2

from services.transport.health_servicer import HealthServicer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Context:
    """What Watch uses of a servicer context: the callback run when the call ends."""

    def __init__(self) -> None:
        self.on_close: list[Callable[[], None]] = []

    def add_callback(self, callback: Callable[[], None]) -> bool:
        self.on_close.append(callback)
        return True


def _watch(servicer: Any, send: Callable[[Any], None]) -> Context:
    context = Context()
    servicer.Watch(health_pb2.HealthCheckRequest(service=""), context, send)
    return context


def _close_ends_during_a_send(servicer: Any, bound: float) -> bool:
    """Whether a watcher's call can end (its close callback, which grpc's server
    thread runs) while a send to another watcher waits for that thread, as a send on
    the threaded server does."""
    leaving = _watch(servicer, lambda response: None)
    closed = threading.Event()

    def close() -> None:
        leaving.on_close[0]()
        closed.set()

    def send_waiting_for_the_server_thread(response: Any) -> None:
        if response.status == NOT_SERVING:
            threading.Thread(target=close, daemon=True).start()
            closed.wait(timeout=bound)  # a bound on the wait, not a timing

    _watch(servicer, send_waiting_for_the_server_thread)
    servicer.set("", NOT_SERVING)
    return closed.is_set()


def test_a_watch_ending_during_a_send_does_not_wait_for_it() -> None:
    assert _close_ends_during_a_send(HealthServicer(), bound=30)


def test_grpc_health_servicer_is_the_one_that_waits() -> None:
    # The reason for ours: if grpc_health ever fixes this, this fails, and ours can go.
    # It waits out the whole bound, so a short one.
    grpcs = health.HealthServicer(experimental_non_blocking=True)
    assert not _close_ends_during_a_send(grpcs, bound=0.5)


@pytest.mark.parametrize("drain", [False, True])
def test_watchers_get_every_status_in_order(drain: bool) -> None:
    servicer = HealthServicer()
    servicer.set("", NOT_SERVING)
    seen: list[int | None] = []
    context = _watch(servicer, lambda r: seen.append(None if r is None else r.status))
    servicer.set("", SERVING)
    if drain:
        servicer.enter_graceful_shutdown()
    servicer.set("", SERVING)  # ignored once draining
    last = NOT_SERVING if drain else SERVING
    assert seen == [NOT_SERVING, SERVING, last]
    context.on_close[0]()  # the call ends: grpc is told to end the stream (None)
    servicer.set("", NOT_SERVING)
    assert seen == [NOT_SERVING, SERVING, last, None]  # nothing more to an ended call
    check = servicer.Check(health_pb2.HealthCheckRequest(service=""), None)
    assert check.status == NOT_SERVING
