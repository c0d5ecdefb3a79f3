"""Generated players for the demo and for load tests: varied, deterministic, valid."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

COUNTRIES = ("US", "CA", "RO", "DE", "FR", "GB", "BR", "JP", "IN", "ES")
# Skewed like real traffic: most players come from a few countries.
COUNTRY_WEIGHTS = (30, 10, 5, 10, 8, 8, 10, 7, 7, 5)


def sample_profile() -> dict[str, Any]:
    """The brief's sample player, shipped with the package for the demo."""
    text = resources.files("services.demo").joinpath("sample_profile.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def generate_players(count: int, *, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` profile documents in the users' format; the same seed gives the same players."""
    rng = random.Random(seed)
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(count):
        created = epoch + timedelta(minutes=rng.randrange(0, 1_000_000))
        inventory = {f"item_{rng.randrange(1, 60)}": rng.choice((0, 1, 1, 2, 5)) for _ in range(6)}
        inventory["cash"] = rng.randrange(0, 10_000)
        yield {
            "player_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "credential": rng.choice(("apple_credential", "google_credential")),
            "created": created,
            "modified": created + timedelta(days=rng.randrange(0, 30)),
            "total_spent": rng.randrange(0, 500),
            "total_refund": 0,
            "total_transactions": rng.randrange(0, 20),
            "active_campaigns": [],
            "level": rng.randrange(1, 60),
            "xp": rng.randrange(0, 100_000),
            "country": rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0],
            "language": rng.choice(("en", "fr", "de", "ro", "es")),
            "inventory": inventory,
            "_cohort": rng.choice(("a", "b")),
        }
