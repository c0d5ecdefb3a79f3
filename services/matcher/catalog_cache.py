"""The campaign catalog, cached in memory and compiled once per version.

Players never wait on the campaign service while a catalog is cached:
- a cachetools TTLCache says when the catalog is due; past `refresh_ahead` of its
  TTL one background fetch starts, so a busy matcher refreshes before expiry;
- after expiry the last good catalog keeps being served while that fetch runs,
  and also while the campaign service is down (stale on error);
- only a cold cache (nothing ever fetched) makes callers wait, for one shared fetch.
Catalogs pushed by WatchCampaigns arrive through `offer` and count as fresh.
A catalog with schedules is compiled for a horizon of time (CompiledCatalog.renew_at);
when a request finds it near its end, the same version is compiled again in the
background and takes its place, so requests keep finding schedules in the time index.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cachetools import TTLCache

from services.domain.campaign import Catalog
from services.domain.errors import DependencyTimeout, DependencyUnavailable
from services.matching.compiled import CompiledCatalog

log = logging.getLogger(__name__)

_KEY = "catalog"


class CatalogFetcher(Protocol):
    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog | None:
        """The catalog, or None when `known_version` is current.

        Raises DependencyUnavailable when the campaign service cannot answer."""
        ...


class CacheObserver(Protocol):
    """What the cache reports (metrics); every method must be cheap and never raise."""

    def hit(self) -> None: ...
    def miss(self) -> None: ...
    def stale(self) -> None: ...
    def refreshed(self, result: str) -> None: ...
    def installed(self, version: str) -> None: ...


class _NoObserver:
    def hit(self) -> None: ...
    def miss(self) -> None: ...
    def stale(self) -> None: ...
    def refreshed(self, result: str) -> None: ...
    def installed(self, version: str) -> None: ...


@dataclass(frozen=True, slots=True)
class CacheState:
    version: str | None
    # Seconds since the campaign service last confirmed the catalog; None when cold.
    age: float | None
    # A catalog is held, so requests can be answered (however old it is).
    serving: bool
    # No catalog, or none confirmed within `max_staleness`: worth an alert, but the
    # old catalog is still served (every matcher ages alike, so turning NOT_SERVING
    # on age would take the whole fleet out of rotation at once).
    stale: bool


class CatalogCache:
    """The matcher's catalog, compiled for matching: refreshed ahead of its TTL, pushed
    to by the `CatalogSubscription`, served stale while the campaign service is away."""

    def __init__(
        self,
        fetcher: CatalogFetcher,
        *,
        ttl: float = 300.0,
        refresh_ahead: float = 0.8,
        max_staleness: float = 3600.0,
        retry_after: float = 1.0,
        fetch_timeout: float = 2.0,
        timer: Callable[[], float] = time.monotonic,
        observer: CacheObserver | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fetcher = fetcher
        self._timer = timer
        self._wall_clock = wall_clock
        self._renewing = threading.Lock()  # held by the one horizon renewal in flight
        self._ttl = ttl
        self._refresh_at_age = ttl * refresh_ahead
        self._max_staleness = max_staleness
        self._retry_after = retry_after
        self._fetch_timeout = fetch_timeout
        self._observer = observer or _NoObserver()
        # TTLCache is not thread-safe: every access holds _lock.
        self._fresh: TTLCache[str, CompiledCatalog] = TTLCache(maxsize=1, ttl=ttl, timer=timer)
        self._lock = threading.Lock()
        self._fetching = threading.Lock()  # held by the one fetch in flight
        self._last_good: CompiledCatalog | None = None
        self._confirmed_at = float("-inf")
        self._next_attempt = float("-inf")
        self._last_error: DependencyUnavailable | None = None

    def current(self, *, timeout: float | None = None) -> CompiledCatalog:
        """The catalog to match with; DependencyUnavailable only when none was ever fetched."""
        with self._lock:
            fresh = self._fresh.get(_KEY)
            last_good = self._last_good
            age = self._timer() - self._confirmed_at
        if fresh is not None:
            self._observer.hit()
            if age >= self._refresh_at_age:
                self._refresh_in_background()
            # last_good is `fresh`, or the same version compiled again by a renewal.
            serving = last_good or fresh
            if serving.renew_at is not None:
                self._renew_if_due(serving)
            return serving
        if last_good is not None:
            self._observer.stale()
            self._refresh_in_background()
            if last_good.renew_at is not None:
                self._renew_if_due(last_good)
            return last_good
        self._observer.miss()
        # Cold: everyone waits for the one fetch, but no longer than their deadline.
        if not self._fetching.acquire(timeout=-1 if timeout is None else timeout):
            raise DependencyTimeout(
                "no campaign catalog fetched within the deadline",
                public="no campaign catalog yet: none was fetched within the deadline",
            )
        try:
            with self._lock:
                last_good = self._last_good
            if last_good is not None:
                return last_good
            if self._timer() < self._next_attempt:
                # The service just failed: answer at once instead of queueing on it.
                raise DependencyUnavailable(
                    "campaign service unavailable; no catalog yet;"
                    f" last failure: {self._last_error}",
                    public="no campaign catalog yet: the campaign service is unavailable",
                )
            return self._refresh(timeout)
        finally:
            self._fetching.release()

    def offer(self, catalog: Catalog) -> None:
        """Installs a catalog pushed by the campaign service (WatchCampaigns)."""
        with self._lock:
            last_good = self._last_good
        self._install(self._compile(catalog, last_good))

    def poke(self) -> None:
        """Starts a background refresh if one is due (for idle processes)."""
        with self._lock:
            due = self._fresh.get(_KEY) is None or (
                self._timer() - self._confirmed_at >= self._refresh_at_age
            )
        if due:
            self._refresh_in_background()

    def holds_catalog(self) -> bool:
        """Whether a catalog was ever fetched: `current` then never waits for one.
        (A plain read, no lock: it only ever turns true.)"""
        return self._last_good is not None

    def state(self) -> CacheState:
        with self._lock:
            if self._last_good is None:
                return CacheState(version=None, age=None, serving=False, stale=True)
            age = self._timer() - self._confirmed_at
            return CacheState(
                self._last_good.version, age, serving=True, stale=age > self._max_staleness
            )

    def _renew_if_due(self, compiled: CompiledCatalog) -> None:
        """Compiles `compiled`'s catalog again around now, in the background, once its
        horizon is near its end; installs it unless another version came meanwhile."""
        renew_at = compiled.renew_at
        if renew_at is None or self._wall_clock() < renew_at:
            return
        if not self._renewing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                renewed = compiled.recompiled(self._wall_clock())
                with self._lock:
                    if self._last_good is compiled:
                        self._last_good = renewed
            finally:
                self._renewing.release()

        threading.Thread(target=run, name="catalog-renew", daemon=True).start()

    def _refresh_in_background(self) -> None:
        if self._timer() < self._next_attempt or not self._fetching.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self._refresh(self._fetch_timeout)
            except DependencyUnavailable as exc:
                version = self.state().version
                log.warning("campaign catalog refresh failed, serving %s: %s", version, exc)
            finally:
                self._fetching.release()

        threading.Thread(target=run, name="catalog-refresh", daemon=True).start()

    def _refresh(self, timeout: float | None) -> CompiledCatalog:
        """Fetches; the caller holds _fetching."""
        last_good = self._last_good
        limit = self._fetch_timeout if timeout is None else min(timeout, self._fetch_timeout)
        try:
            fetched = self._fetcher.fetch(
                None if last_good is None else last_good.version, timeout=limit
            )
        except DependencyUnavailable as exc:
            self._last_error = exc
            self._observer.refreshed("error")
            # Jittered, so that a fleet of matchers does not retry in lockstep.
            self._next_attempt = self._timer() + self._retry_after * random.uniform(0.5, 1.5)
            raise
        self._observer.refreshed("unchanged" if fetched is None else "ok")
        compiled = last_good if fetched is None else self._compile(fetched, last_good)
        assert compiled is not None, "an unchanged answer needs a known version"
        return self._install(compiled, replacing=last_good)

    def _compile(self, catalog: Catalog, last_good: CompiledCatalog | None) -> CompiledCatalog:
        if last_good is not None and last_good.version == catalog.version:
            return last_good
        return CompiledCatalog(catalog, at=self._wall_clock())

    def _install(
        self, compiled: CompiledCatalog, *, replacing: CompiledCatalog | None = None
    ) -> CompiledCatalog:
        """Installs `compiled` and returns the catalog now in force.

        A poll passes the catalog it started from as `replacing`: if a pushed catalog
        arrived while it was fetching, the push is newer and stays (a slow poll must
        not roll the catalog back); the poll still counts as word from the service."""
        with self._lock:
            if replacing is not None and self._last_good is not replacing:
                compiled = self._last_good or compiled
            changed = self._last_good is None or self._last_good.version != compiled.version
            self._last_good = compiled
            self._fresh[_KEY] = compiled
            self._confirmed_at = self._timer()
            self._next_attempt = float("-inf")
        if changed:
            log.info("campaign catalog version %s installed", compiled.version)
            self._observer.installed(compiled.version)
        return compiled
