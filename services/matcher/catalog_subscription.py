"""Follows WatchCampaigns so catalog changes reach the matcher as soon as they are served.

The stream is the fast path; the cache's TTL poll stays as the fallback. When the
stream drops (campaign service restarting, network), it is reopened after a
jittered exponential backoff, so a fleet of matchers does not reconnect in lockstep.
The backoff is capped low (RECONNECT_CAP): whatever the length of an outage, the next
attempt is never far off once the service is back, so a changed catalog still
arrives soon after its return (the channel's own reconnect backoff is capped
to match: CAMPAIGN_CHANNEL_OPTIONS).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable

log = logging.getLogger(__name__)

# The longest pause between two attempts to reopen the stream. Full jitter spreads a
# fleet's attempts over the whole interval; a low cap keeps the wait after an outage
# short however long the outage was (an uncapped or high cap grows with the outage).
RECONNECT_CAP = 2.0
# The matcher's channel to the campaign service reconnects on its own schedule (gRPC's
# backoff grows to two minutes by default) and fails calls at once between attempts,
# so it is capped too, or the stream could only reopen once the channel tries again.
CAMPAIGN_CHANNEL_OPTIONS = (("grpc.max_reconnect_backoff_ms", 1000),)


class _Sink(Protocol):
    def offer(self, catalog: Catalog) -> None: ...


class _Stream(Protocol):
    """An open watch (campaign_client.CatalogStream): catalogs as they come."""

    def __iter__(self) -> Iterator[Catalog]: ...
    def cancel(self) -> None: ...


class CatalogSubscription:
    """Keeps one WatchCampaigns stream open, reopening it when it drops, and offers
    every catalog it pushes to the `CatalogCache`."""

    def __init__(
        self,
        open_stream: Callable[[], _Stream],
        sink: _Sink,
        *,
        backoff_base: float = 0.25,
        backoff_cap: float = RECONNECT_CAP,
        jitter: Callable[[], float] = random.random,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        """`sleep(seconds)` pauses between attempts (default: a wait that `stop` ends)."""
        self._open_stream = open_stream
        self._sink = sink
        self._base = backoff_base
        self._cap = backoff_cap
        self._jitter = jitter
        self._stopped = threading.Event()
        self._sleep = self._stopped.wait if sleep is None else sleep
        self._lock = threading.Lock()
        self._stream: _Stream | None = None
        self._thread = threading.Thread(target=self._run, name="catalog-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            if self._stream is not None:
                self._stream.cancel()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                with self._lock:
                    if self._stopped.is_set():
                        return
                    self._stream = self._open_stream()
                for catalog in self._stream:
                    self._sink.offer(catalog)
                    failures = 0
                if not self._stopped.is_set():
                    log.info("catalog watch stream ended; reconnecting")
            except DependencyUnavailable as exc:
                # Attempts come every few seconds through an outage: warn once per outage.
                level = logging.WARNING if failures <= 1 else logging.DEBUG
                log.log(level, "catalog watch failed (%s); polling continues as fallback", exc)
            except Exception:
                log.exception("bug in the catalog watch; restarting it")
            finally:
                # A stream left by an error is cancelled now, not whenever it is collected.
                with self._lock:
                    if self._stream is not None:
                        self._stream.cancel()
                        self._stream = None
            failures += 1
            # Full jitter: sleep a random part of the capped exponential step.
            delay = self._jitter() * min(self._cap, self._base * 2 ** min(failures, 16))
            self._sleep(delay)
