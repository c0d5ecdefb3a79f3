"""The campaign catalog, cached in memory and compiled once per version.

A cachetools TTLCache decides when the catalog is due for a refresh. Only one
fetch is ever in flight: with nothing cached, callers wait for it; with a catalog
cached, one caller refreshes and the others keep being served the last good
catalog, which also stays in service while the campaign service is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from cachetools import TTLCache

from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable
from services.matching.compiled import CompiledCatalog

log = logging.getLogger(__name__)

_KEY = "catalog"


class CatalogFetcher(Protocol):
    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog | None:
        """The catalog, or None when `known_version` is current.

        Raises DependencyUnavailable when the campaign service cannot answer."""
        ...


class CampaignCache:
    def __init__(
        self,
        fetcher: CatalogFetcher,
        *,
        ttl: float = 300.0,
        retry_after: float = 1.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self._timer = timer
        self._retry_after = retry_after
        # TTLCache is not thread-safe: every access holds _lock.
        self._fresh: TTLCache[str, CompiledCatalog] = TTLCache(maxsize=1, ttl=ttl, timer=timer)
        self._lock = threading.Lock()
        self._fetching = threading.Lock()
        self._last_good: CompiledCatalog | None = None
        self._next_attempt = float("-inf")
        self.fetches = 0

    def current(self, *, timeout: float | None = None) -> CompiledCatalog:
        with self._lock:
            fresh = self._fresh.get(_KEY)
            last_good = self._last_good
        if fresh is not None:
            return fresh
        if last_good is None:
            # Cold: nothing to serve, so wait for the one fetch in flight.
            with self._fetching:
                with self._lock:
                    fresh = self._fresh.get(_KEY)
                return fresh if fresh is not None else self._refresh(timeout)
        if self._fetching.acquire(blocking=False):
            try:
                return self._refresh(timeout)
            except DependencyUnavailable as exc:
                log.warning("serving stale catalog %s: %s", last_good.version, exc)
            finally:
                self._fetching.release()
        return last_good

    def offer(self, catalog: Catalog) -> None:
        """Installs a catalog pushed by the campaign service (WatchCampaigns)."""
        with self._lock:
            last_good = self._last_good
        self._install(self._compile(catalog, last_good))

    @property
    def version(self) -> str | None:
        with self._lock:
            return None if self._last_good is None else self._last_good.version

    def _refresh(self, timeout: float | None) -> CompiledCatalog:
        # After a failure, fail fast (or serve stale) instead of making every
        # request wait on a campaign service that is known to be down.
        if self._timer() < self._next_attempt:
            raise DependencyUnavailable("campaign service unavailable (retrying shortly)")
        last_good = self._last_good
        self.fetches += 1
        try:
            fetched = self._fetcher.fetch(
                None if last_good is None else last_good.version, timeout=timeout
            )
        except DependencyUnavailable:
            self._next_attempt = self._timer() + self._retry_after
            raise
        compiled = last_good if fetched is None else self._compile(fetched, last_good)
        assert compiled is not None, "an unchanged answer needs a known version"
        self._install(compiled)
        return compiled

    @staticmethod
    def _compile(catalog: Catalog, last_good: CompiledCatalog | None) -> CompiledCatalog:
        if last_good is not None and last_good.version == catalog.version:
            return last_good
        return CompiledCatalog(catalog)

    def _install(self, compiled: CompiledCatalog) -> None:
        with self._lock:
            if self._last_good is None or self._last_good.version != compiled.version:
                log.info("campaign catalog version %s installed", compiled.version)
            self._last_good = compiled
            self._fresh[_KEY] = compiled
            self._next_attempt = float("-inf")
