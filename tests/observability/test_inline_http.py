"""The parent's /metrics, served from its own loop: one deadline for all of a request,
so a client that trickles bytes cannot hold the loop."""

from __future__ import annotations

import select
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from services.observability.http import MetricsSettings
from services.observability.inline_http import REQUEST_DEADLINE, InlineMetricsEndpoint
from tests.ports import free_port

TRICKLE = 400  # bytes the slow client would send, one at a time


class TickingClock:
    """Every reading a quarter of the deadline later than the one before."""

    def __init__(self) -> None:
        self.now = 0.0
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        self.now += REQUEST_DEADLINE / 4
        return self.now


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def endpoint(clock: TickingClock) -> Iterator[InlineMetricsEndpoint]:
    registry = CollectorRegistry()
    Counter("scraped_things", "Things.", registry=registry).inc(3)
    served = InlineMetricsEndpoint(
        MetricsSettings(port=free_port(), host="127.0.0.1"), registry, clock=clock
    )
    yield served
    served.close()


def handle_one(endpoint: InlineMetricsEndpoint) -> None:
    """As the supervisor's loop does: once the socket is readable."""
    readable, _, _ = select.select([endpoint.fileno()], [], [], 10)
    assert readable, "no connection came"
    endpoint.handle()


def test_a_scrape_is_answered(endpoint: InlineMetricsEndpoint) -> None:
    answers: list[str] = []

    def scrape() -> None:
        url = f"http://127.0.0.1:{endpoint.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            answers.append(response.read().decode())

    client = threading.Thread(target=scrape)
    client.start()
    handle_one(endpoint)
    client.join(timeout=10)
    assert "scraped_things_total 3.0" in answers[0]


def test_a_client_sending_a_byte_at_a_time_is_cut_off_at_the_deadline(
    endpoint: InlineMetricsEndpoint, clock: TickingClock
) -> None:
    sent = 0
    refused = threading.Event()

    def trickle() -> None:
        nonlocal sent
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
            try:
                for byte in (b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"x" * TRICKLE)[:TRICKLE]:
                    sock.sendall(bytes([byte]))
                    sent += 1
                    time.sleep(0.005)  # each byte its own read, well within any timeout
            except OSError:
                refused.set()

    client = threading.Thread(target=trickle)
    client.start()
    handle_one(endpoint)  # returns once the deadline has passed on the clock
    client.join(timeout=30)
    assert refused.is_set(), "the client sent everything: the request was never cut off"
    assert sent < TRICKLE
    # The deadline is read once at the start and once per read of the connection.
    assert clock.readings <= 5
