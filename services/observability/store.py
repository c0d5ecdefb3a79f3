"""A ProfileStore that times every call and counts the ones that raise."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from services.domain.profile import Profile
from services.observability.metrics import Metrics
from services.storage.base import BatchProfileStore, ProfileStore

T = TypeVar("T")

OPERATIONS = (
    "get",
    "get_many",
    "set_active_campaigns",
    "create",
    "upsert",
    "upsert_many",
    "update_fields",
    "delete",
    "ping",
    "close",
)


def instrument_store(
    store: ProfileStore, metrics: Metrics, *, timer: Callable[[], float] = time.perf_counter
) -> ProfileStore:
    """`store`, instrumented; still a BatchProfileStore when `store` is one, so bulk
    imports keep their batched writes."""
    if isinstance(store, BatchProfileStore):
        return InstrumentedBatchStore(store, metrics, timer=timer)
    return InstrumentedStore(store, metrics, timer=timer)


class InstrumentedStore:
    """Wraps a ProfileStore: every call goes into profilematcher_store_operation_seconds,
    every exception into profilematcher_store_errors_total by class name, and is then
    re-raised as it was, so callers map it to a status code as before."""

    def __init__(
        self,
        inner: ProfileStore,
        metrics: Metrics,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.inner = inner
        self._timer = timer
        self._errors = metrics.store_errors
        self._seconds = {op: metrics.store_seconds.labels(operation=op) for op in OPERATIONS}

    def _timed(self, operation: str, call: Callable[[], T]) -> T:
        start = self._timer()
        try:
            return call()
        except Exception as exc:
            self._errors.labels(operation=operation, error=type(exc).__name__).inc()
            raise
        finally:
            self._seconds[operation].observe(self._timer() - start)

    def get(self, player_id: str, *, timeout: float | None = None) -> Profile | None:
        return self._timed("get", lambda: self.inner.get(player_id, timeout=timeout))

    def get_many(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Profile]:
        return self._timed("get_many", lambda: self.inner.get_many(player_ids, timeout=timeout))

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        self._timed(
            "set_active_campaigns",
            lambda: self.inner.set_active_campaigns(updates, timeout=timeout),
        )

    def create(self, profile: Profile, *, timeout: float | None = None) -> None:
        self._timed("create", lambda: self.inner.create(profile, timeout=timeout))

    def upsert(self, profile: Profile, *, timeout: float | None = None) -> bool:
        return self._timed("upsert", lambda: self.inner.upsert(profile, timeout=timeout))

    def update_fields(
        self,
        player_id: str,
        values: Mapping[str, Any],
        unset: Collection[str] = (),
        *,
        timeout: float | None = None,
    ) -> Profile:
        return self._timed(
            "update_fields",
            lambda: self.inner.update_fields(player_id, values, unset, timeout=timeout),
        )

    def delete(self, player_id: str, *, timeout: float | None = None) -> bool:
        return self._timed("delete", lambda: self.inner.delete(player_id, timeout=timeout))

    def ping(self, *, timeout: float | None = None) -> None:
        self._timed("ping", lambda: self.inner.ping(timeout=timeout))

    def close(self) -> None:
        self._timed("close", self.inner.close)

    def __repr__(self) -> str:
        return f"InstrumentedStore({self.inner!r})"


class InstrumentedBatchStore(InstrumentedStore):
    """The same over a BatchProfileStore, keeping `upsert_many`."""

    def __init__(
        self,
        inner: BatchProfileStore,
        metrics: Metrics,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(inner, metrics, timer=timer)
        self._batch_inner = inner

    def upsert_many(self, profiles: Sequence[Profile], *, timeout: float | None = None) -> int:
        return self._timed(
            "upsert_many", lambda: self._batch_inner.upsert_many(profiles, timeout=timeout)
        )
