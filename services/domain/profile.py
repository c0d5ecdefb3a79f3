"""The player profile as the domain sees it: plain, immutable, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, NamedTuple, Protocol, TypeAlias, TypeVar

# What a custom (`_`-prefixed) field may hold: anything JSON can express.
JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

PLAYER_ID_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    model: str = ""
    carrier: str = ""
    firmware: str = ""


@dataclass(frozen=True, slots=True)
class Clan:
    id: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    """A player's profile. `None` means the game never set the field."""

    player_id: str
    credential: str | None = None
    created: datetime | None = None
    modified: datetime | None = None
    last_session: datetime | None = None
    total_spent: float | None = None
    total_refund: float | None = None
    total_transactions: int | None = None
    last_purchase: datetime | None = None
    active_campaigns: tuple[str, ...] = ()
    devices: tuple[Device, ...] | None = None
    level: int | None = None
    xp: int | None = None
    total_playtime: int | None = None
    country: str | None = None
    language: str | None = None
    birthdate: datetime | None = None
    gender: str | None = None
    inventory: Mapping[str, int] = field(default_factory=dict)
    clan: Clan | None = None
    # The game's own fields, keyed by their full `_`-prefixed name.
    custom_fields: Mapping[str, JSONValue] = field(default_factory=dict)

    def holds(self, item: str) -> bool:
        """True when the player has `item` with a quantity above zero."""
        return self.inventory.get(item, 0) > 0


class Matchable(Protocol):
    """What the compiled engine reads of a player: a Profile, or a ServingRecord."""

    @property
    def player_id(self) -> str:
        """Hashed by rollouts, holdouts and variants (services.matching.bucketing)."""
        ...

    @property
    def level(self) -> int | None: ...

    @property
    def country(self) -> str | None: ...

    @property
    def inventory(self) -> Mapping[str, int]: ...


R_co = TypeVar("R_co", covariant=True)


class ServingRecord(NamedTuple, Generic[R_co]):
    """A stored profile as a read that answers a caller takes it: `record`, the profile
    in the form the answer is made of (new for each read, the caller's to keep), and
    the fields matching reads, so that serving a player builds no Profile."""

    record: R_co
    player_id: str
    level: int | None
    country: str | None
    inventory: Mapping[str, int]
    active_campaigns: tuple[str, ...]
