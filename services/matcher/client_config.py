"""The matcher's use case: a player's client config, one or many.

No grpc and no messages here: the servicer calls these, fills its response and maps
errors; the store's serving reads and the catalog arrive through their interfaces
and the clock is injected. A client config is the player's stored record, in
whatever form the store serves it (R), with the campaigns to answer with beside it:
serving a player builds no domain Profile, only the fields matching reads, which
the store's read hands over with the record (ServingRecord). The experiments'
assignments leave here as domain values (Assignment); the servicer encodes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

from services.domain.errors import (
    DomainError,
    InvalidInput,
    ProfileNotFound,
    StoredProfileCorrupt,
)
from services.domain.profile import JSONValue, ServingRecord
from services.domain.profile_json import validate_player_id
from services.domain.request_context import validate_context
from services.matching.compiled import CompiledCatalog
from services.matching.experiments import Assignment
from services.storage.base import ServingReads

R = TypeVar("R")

# Large enough for a game server's lobby, small enough that one call stays well
# inside the default 4 MiB message limit (a profile is ~1 KiB).
BATCH_LIMIT = 500


class CatalogSource(Protocol):
    def current(self, *, timeout: float | None = None) -> CompiledCatalog:
        """The catalog to match against; DependencyUnavailable if there is none."""
        ...


# A player's client config: the stored record, the campaigns to answer with when
# they are not the record's own list (None: the record is the answer as it is), and
# one assignment per campaign answered, in that order (computed, never stored). A
# plain tuple: one is made for every player served.
ClientConfig: TypeAlias = tuple[R, tuple[str, ...] | None, tuple[Assignment, ...]]


class ServeClientConfig(Generic[R]):
    """GetClientConfig and its batch: match each player now, store a changed list."""

    def __init__(
        self,
        reads: ServingReads[R],
        catalogs: CatalogSource,
        clock: Callable[[], datetime],
        *,
        document: Callable[[R], Mapping[str, Any]],
    ) -> None:
        """`document(record)`: the record read as the profile's document, for
        campaigns' `where` (a lazy view: conditions read a few fields)."""
        self._reads = reads
        self._catalogs = catalogs
        self._clock = clock
        self._document = document

    def get(
        self,
        player_id: str,
        game: str | None,
        *,
        context: Mapping[str, JSONValue] | None = None,
        timeout: float | None = None,
    ) -> ClientConfig[R]:
        """`context`: the request's, for `where` conditions; never stored."""
        validate_player_id(player_id)
        checked = validate_context(context)
        result = self._get_checked([player_id], game, checked, timeout)[0]
        if isinstance(result, DomainError):
            raise result
        return result

    def get_many(
        self,
        player_ids: Sequence[str],
        game: str | None,
        *,
        context: Mapping[str, JSONValue] | None = None,
        timeout: float | None = None,
    ) -> list[ClientConfig[R] | DomainError]:
        """Results in request order: the player's client config, ProfileNotFound, or
        StoredProfileCorrupt (that player's record cannot be read as a profile).

        One store read for all players and one batched write for those whose full
        active_campaigns (across all games, whatever `game` narrows the answer to)
        changed; an unchanged list is never written.
        """
        _validate_batch(player_ids)
        checked = validate_context(context)
        return self._get_checked(player_ids, game, checked, timeout)

    def _get_checked(
        self,
        player_ids: Sequence[str],
        game: str | None,
        context: Mapping[str, JSONValue],
        timeout: float | None,
    ) -> list[ClientConfig[R] | DomainError]:
        started = time.monotonic()
        # The catalog first: if there is none, fail before touching the store.
        catalog = self._catalogs.current(timeout=timeout)
        now = self._clock()
        stored = self._reads.read_for_serving(player_ids, timeout=timeout)
        changed: dict[str, tuple[str, ...]] = {}
        results: list[ClientConfig[R] | DomainError] = []
        for player_id in player_ids:
            record = stored.get(player_id)
            if record is None or isinstance(record, StoredProfileCorrupt):
                results.append(record or ProfileNotFound(player_id))
                continue
            where = (self._document(record.record), context)
            full, answer, assignments = _match(record, catalog, now, game, where)
            if full != record.active_campaigns:
                changed[player_id] = full
            results.append(
                (
                    record.record,
                    None if answer == record.active_campaigns else answer,
                    assignments,
                )
            )
        if changed:
            # What is left of the caller's time, not all of it again.
            left = None if timeout is None else timeout - (time.monotonic() - started)
            self._reads.set_active_campaigns(changed, timeout=left)
        return results


def _match(
    record: ServingRecord[R],
    catalog: CompiledCatalog,
    now: datetime,
    game: str | None,
    where: tuple[Mapping[str, Any], Mapping[str, JSONValue]],
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Assignment, ...]]:
    """The player's full list of campaigns, to store, the list to answer with, and
    the answer's assignments.

    What is stored is always the full list across all games, matched without the
    request's context: a `game` filter and a context change only the answer. A game
    the catalog does not know (a typo, say) answers an empty list and is not matched
    at all, so it changes nothing.
    """
    document, context = where
    if game and not catalog.has_game(game):
        return record.active_campaigns, (), ()
    full, answer, assignments = catalog.evaluate(
        record, now, game or None, context=context, document=document
    )
    if context and catalog.reads_context:
        # The context is the caller's, never stored: the stored list is what the
        # profile alone qualifies for, or game servers sending different contexts
        # would rewrite the player on every call.
        full = catalog.evaluate(record, now, None, context=_NO_CONTEXT, document=document)[0]
    return full, answer, assignments


_NO_CONTEXT: Mapping[str, JSONValue] = {}


def _validate_batch(player_ids: Sequence[str]) -> None:
    if not player_ids:
        raise InvalidInput("player_ids", "must name at least one player")
    if len(player_ids) > BATCH_LIMIT:
        raise InvalidInput(
            "player_ids", f"at most {BATCH_LIMIT} players per call, got {len(player_ids)}"
        )
    seen: set[str] = set()
    for index, player_id in enumerate(player_ids):
        validate_player_id(player_id, f"player_ids[{index}]")
        if player_id in seen:
            raise InvalidInput(f"player_ids[{index}]", f"duplicate player id {player_id!r}")
        seen.add(player_id)
