"""Experiments on a campaign: a percentage rollout, variants with payloads, a group.

Percentages are kept as whole thousandths of a percent (`threshold` = percent * 1000,
in [0, 100000]), the unit of the 100,000 buckets a player is hashed into
(services.matching.bucketing), so that comparing a bucket with a percentage never
goes through floating point: a catalog's "25.5" is the threshold 25500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from services.domain.profile import JSONValue

# A payload: a JSON object handed to the game with the assignment.
JSONObject: TypeAlias = Mapping[str, JSONValue]

BUCKETS = 100_000
# Thousandths of a percent: a bucket is this share of the players.
PER_PERCENT = BUCKETS // 100
# A payload's compact JSON text may be at most this many bytes (UTF-8): payloads ride on
# every client config that holds the campaign, so they are settings, not content.
PAYLOAD_MAX_BYTES = 4096
# Weights are summed into W and multiplied with a 32-bit hash; W at most 2**31 - 1 keeps
# the product within a signed 64-bit integer, as flagd's `fractional` requires.
MAX_TOTAL_WEIGHT = 2**31 - 1


def percent_threshold(value: float | int) -> int:
    """`value` percent as thousandths of a percent; ValueError unless it is within
    0..100 with at most three decimals (as written: 25.125 yes, 25.1255 no)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {type(value).__name__}")
    try:
        # repr is the shortest text that reads back as the same double: the decimals the
        # catalog wrote, not the binary expansion's.
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"must be a finite number, got {value}") from None
    if not exact.is_finite():
        raise ValueError(f"must be a finite number, got {value}")
    if not 0 <= exact <= 100:
        raise ValueError(f"must be between 0 and 100, got {value}")
    thousandths = exact * PER_PERCENT
    if thousandths != thousandths.to_integral_value():
        raise ValueError(f"may have at most 3 decimals, got {value}")
    return int(thousandths)


def format_percent(threshold: int) -> str:
    """25000 -> "25", 25500 -> "25.5": the shortest decimal text of the percentage."""
    whole, rest = divmod(threshold, PER_PERCENT)
    return str(whole) if not rest else f"{whole}.{rest:03d}".rstrip("0")


@dataclass(frozen=True, slots=True)
class Rollout:
    """The share of the eligible players who get the campaign."""

    # percent * 1000: a player is in when their rollout bucket is below it.
    threshold: int
    # Hashed before the player id; empty means the default, game + "/" + name + "/rollout".
    salt: str = ""

    @property
    def percent(self) -> float:
        return self.threshold / PER_PERCENT


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    # Non-negative; a variant's share is weight / (sum of the campaign's weights).
    weight: int
    # Left out of the hash: a JSON object is not hashable, and names identify variants.
    payload: JSONObject | None = field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class Group:
    """Campaigns that compete for a player: at most `max_active` of them at once, and a
    holdout share of the players who get none of them."""

    name: str
    # 0: no limit.
    max_active: int = 0
    # percent * 1000 of the players held out of every campaign of the group.
    holdout_threshold: int = 0

    @property
    def holdout_percent(self) -> float:
        return self.holdout_threshold / PER_PERCENT
