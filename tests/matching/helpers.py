"""Small builders and the two engines behind one call shape, for the rule tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.domain.campaign import Campaign, Catalog
from services.domain.profile import Profile, ServingRecord
from services.matching import CompiledCatalog, match_reference

START = datetime(2022, 1, 25, tzinfo=UTC)
END = datetime(2022, 2, 25, tzinfo=UTC)
NOW = datetime(2022, 2, 1, 12, tzinfo=UTC)

Engine = Callable[[Profile, Sequence[Campaign], datetime, str | None], tuple[str, ...]]


def campaign(name: str = "c", **fields: Any) -> Campaign:
    """A live, enabled campaign with no matchers, changed by `fields`."""
    values: dict[str, Any] = {
        "game": "g",
        "name": name,
        "priority": 1.0,
        "start_date": START,
        "end_date": END,
        "enabled": True,
    }
    values.update(fields)
    return Campaign(**values)


def profile(**fields: Any) -> Profile:
    return Profile(player_id="p", **fields)


def serving_id(player_id: str) -> ServingRecord[None]:
    """What a serving read hands the engine for a player with nothing but an id."""
    return ServingRecord(None, player_id, None, None, {}, ())


def reference_engine(
    profile: Profile, campaigns: Sequence[Campaign], now: datetime, game: str | None = None
) -> tuple[str, ...]:
    return match_reference(profile, campaigns, now, game)


def compiled_engine(
    profile: Profile, campaigns: Sequence[Campaign], now: datetime, game: str | None = None
) -> tuple[str, ...]:
    return CompiledCatalog(Catalog("t", tuple(campaigns))).match(profile, now, game)


ENGINES: dict[str, Engine] = {"reference": reference_engine, "compiled": compiled_engine}


def minus(moment: datetime, microseconds: int = 1) -> datetime:
    return moment - timedelta(microseconds=microseconds)
