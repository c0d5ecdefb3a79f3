"""A store that forwards every call of both ports to another one through a single hook.

Wrappers (metrics, fault injection in tests and soaks) override `_around` instead of
re-implementing every method of the ports.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Generic, TypeVar

from services.domain.errors import StoredProfileCorrupt
from services.domain.profile import Profile, ServingRecord
from services.storage.base import AudienceCount, AudienceCounts, BatchProfileStore, ServingStore

T = TypeVar("T")
R = TypeVar("R")


class StoreWrapper(Generic[R]):
    def __init__(self, inner: ServingStore[R]) -> None:
        self.inner = inner

    def _around(self, operation: str, call: Callable[[], T]) -> T:
        """Runs `call` (the inner store's `operation`); the one place to add behaviour."""
        return call()

    def get(self, player_id: str, *, timeout: float | None = None) -> Profile | None:
        return self._around("get", lambda: self.inner.get(player_id, timeout=timeout))

    def get_many(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Profile | StoredProfileCorrupt]:
        return self._around("get_many", lambda: self.inner.get_many(player_ids, timeout=timeout))

    def read_for_serving(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> Mapping[str, ServingRecord[R] | StoredProfileCorrupt]:
        # The same read as get_many, in another form: timed, counted and faulted as one.
        return self._around(
            "get_many", lambda: self.inner.read_for_serving(player_ids, timeout=timeout)
        )

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        self._around(
            "set_active_campaigns",
            lambda: self.inner.set_active_campaigns(updates, timeout=timeout),
        )

    def create(self, profile: Profile, *, timeout: float | None = None) -> None:
        self._around("create", lambda: self.inner.create(profile, timeout=timeout))

    def upsert(self, profile: Profile, *, timeout: float | None = None) -> bool:
        return self._around("upsert", lambda: self.inner.upsert(profile, timeout=timeout))

    def update_fields(
        self,
        player_id: str,
        values: Mapping[str, Any],
        unset: Collection[str] = (),
        *,
        timeout: float | None = None,
    ) -> Profile:
        return self._around(
            "update_fields",
            lambda: self.inner.update_fields(player_id, values, unset, timeout=timeout),
        )

    def delete(self, player_id: str, *, timeout: float | None = None) -> bool:
        return self._around("delete", lambda: self.inner.delete(player_id, timeout=timeout))

    def ping(self, *, timeout: float | None = None) -> None:
        self._around("ping", lambda: self.inner.ping(timeout=timeout))

    def count_audience(
        self, query: Mapping[str, Any], *, timeout: float | None = None
    ) -> AudienceCount:
        """The inner store's AudienceCounts; TypeError when it has none."""
        inner = self.inner
        if not isinstance(inner, AudienceCounts):
            raise TypeError(f"{inner!r} cannot count audiences")
        return self._around("count_audience", lambda: inner.count_audience(query, timeout=timeout))

    def close(self) -> None:
        self._around("close", self.inner.close)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


class BatchStoreWrapper(StoreWrapper[R]):
    """The same over a store that is also a BatchProfileStore, keeping `upsert_many`
    (batched imports)."""

    def __init__(self, inner: ServingStore[R]) -> None:
        super().__init__(inner)
        self._batch_inner = as_batch_store(inner)

    def upsert_many(self, profiles: Sequence[Profile], *, timeout: float | None = None) -> int:
        return self._around(
            "upsert_many", lambda: self._batch_inner.upsert_many(profiles, timeout=timeout)
        )


def as_batch_store(store: object) -> BatchProfileStore:
    """`store`, which must have upsert_many (TypeError otherwise)."""
    if not isinstance(store, BatchProfileStore):
        raise TypeError(f"{store!r} has no upsert_many")
    return store
