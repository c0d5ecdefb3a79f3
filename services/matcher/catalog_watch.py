"""Follows WatchCampaigns so catalog changes reach the matcher within a second.

The stream is the fast path; the cache's TTL poll stays as the fallback. When the
stream drops (campaign service restarting, network), it is reopened after a
jittered exponential backoff, so a fleet of matchers does not reconnect in lockstep.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Protocol

from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable
from services.matcher.campaign_client import CatalogStream

log = logging.getLogger(__name__)


class _Sink(Protocol):
    def offer(self, catalog: Catalog) -> None: ...


class CatalogWatcher:
    def __init__(
        self,
        open_stream: Callable[[], CatalogStream],
        sink: _Sink,
        *,
        backoff_base: float = 0.25,
        backoff_cap: float = 15.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._open_stream = open_stream
        self._sink = sink
        self._base = backoff_base
        self._cap = backoff_cap
        self._jitter = jitter
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._stream: CatalogStream | None = None
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
                log.warning("catalog watch failed (%s); polling continues as fallback", exc)
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
            self._stopped.wait(delay)
