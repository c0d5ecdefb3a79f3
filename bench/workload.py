"""Realistic, reproducible catalogs and players for benchmarks.

Everything is drawn from a seeded `random.Random`, so the same arguments always give the
same data. The shapes follow what live-ops catalogs look like: a few games of unequal
size, players concentrated in a few countries, a few hundred inventory items of very
unequal popularity, level-gated offers, about 10% of campaigns disabled and 20% outside
their window, and a good share with no country condition.

    catalog = make_catalog(1_000, seed=1)
    requests = make_requests(2_000, seed=2)   # Request(profile, game)
    profiles = make_profiles(2_000, seed=2)   # the same players, without a game
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.domain.campaign import Campaign, Catalog, LevelRange
from services.domain.profile import Clan, Device, Profile

# The clock the generated windows are laid around: mid-day, so it never sits on a
# window boundary (those fall on midnights).
BENCH_NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)

# (game, share of campaigns and of players)
GAMES: tuple[tuple[str, float], ...] = (
    ("puzzle_quest", 0.35),
    ("racing_rivals", 0.25),
    ("farm_life", 0.20),
    ("space_saga", 0.12),
    ("card_clash", 0.08),
)

# (ISO code, share of players): a long tail behind a few big markets.
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 30.0),
    ("GB", 8.0),
    ("DE", 7.0),
    ("BR", 6.0),
    ("FR", 5.5),
    ("JP", 5.0),
    ("CA", 4.0),
    ("MX", 3.5),
    ("IN", 3.5),
    ("KR", 3.0),
    ("AU", 2.5),
    ("IT", 2.5),
    ("ES", 2.5),
    ("RU", 2.0),
    ("PL", 1.5),
    ("TR", 1.5),
    ("NL", 1.2),
    ("SE", 1.0),
    ("RO", 1.0),
    ("ID", 1.0),
    ("PH", 1.0),
    ("AR", 0.8),
    ("ZA", 0.6),
    ("NG", 0.5),
    ("VN", 0.5),
)

ITEM_VOCABULARY_SIZE = 300
# Held by most players, and never a campaign condition.
CURRENCIES = ("cash", "coins", "gems")

_CAMPAIGN_KINDS = ("sale", "event", "offer", "bundle", "pass", "quest", "tournament")
_LEVEL_FLOORS = (1, 1, 1, 3, 5, 10, 15, 20, 30, 50)
_LEVEL_SPANS = (2, 4, 9, 19, 49, 99)


@dataclass(frozen=True, slots=True)
class Request:
    """One matching request as a game server sends it: a player and its game."""

    profile: Profile
    game: str


def item_vocabulary(size: int = ITEM_VOCABULARY_SIZE) -> tuple[str, ...]:
    """Item names, most popular first (`item_0` is the most held and most targeted)."""
    return tuple(f"item_{i}" for i in range(size))


def make_catalog(
    size: int, *, seed: int = 0, now: datetime = BENCH_NOW, version: str | None = None
) -> Catalog:
    """A catalog of `size` campaigns spread over GAMES, windows laid around `now`.

    (game, name) is unique, and popular names recur across games as real catalogs do.
    """
    rng = random.Random(f"catalog:{seed}")
    items = item_vocabulary()
    item_weights = _zipf_cumulative(len(items))
    game_names = [game for game, _ in GAMES]
    game_weights = list(itertools.accumulate(share for _, share in GAMES))
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)

    campaigns: list[Campaign] = []
    used: set[tuple[str, str]] = set()
    for serial in range(size):
        game = rng.choices(game_names, cum_weights=game_weights)[0]
        # A small name pool per kind so the same campaign name shows up in several games.
        name = f"{rng.choice(_CAMPAIGN_KINDS)}_{rng.randrange(max(4, size // 5))}"
        if (game, name) in used:
            name = f"{name}_{serial}"
        used.add((game, name))

        start, end = _window(rng, today)
        level = None
        if rng.random() >= 0.25:
            floor = rng.choice(_LEVEL_FLOORS)
            level = LevelRange(floor, floor + rng.choice(_LEVEL_SPANS))
        campaigns.append(
            Campaign(
                game=game,
                name=name,
                priority=float(rng.randrange(100)) + rng.choice((0.0, 0.0, 0.5)),
                start_date=start,
                end_date=end,
                enabled=rng.random() >= 0.10,
                level=level,
                countries=_campaign_countries(rng),
                required_items=_pick_items(rng, items, item_weights, (0.5, 0.35, 0.1, 0.05)),
                forbidden_items=_pick_items(rng, items, item_weights, (0.6, 0.3, 0.1)),
                last_updated=today - timedelta(days=rng.randrange(90)),
            )
        )
    return Catalog(version=version or f"bench-{size}-{seed}", campaigns=tuple(campaigns))


def make_profiles(count: int, *, seed: int = 0, now: datetime = BENCH_NOW) -> list[Profile]:
    """`count` players with realistic levels, countries and inventories.

    About 2% have no country and 3% no level; about 10% of country codes are lower case,
    and about 10% of inventory entries have quantity 0 (spent), which counts as not held.
    """
    rng = random.Random(f"profiles:{seed}")
    items = item_vocabulary()
    item_weights = _zipf_cumulative(len(items))
    codes = [code for code, _ in COUNTRIES]
    code_weights = list(itertools.accumulate(share for _, share in COUNTRIES))

    profiles = []
    for _ in range(count):
        country: str | None = rng.choices(codes, cum_weights=code_weights)[0]
        if rng.random() < 0.02:
            country = None
        elif rng.random() < 0.10:
            country = country.lower() if country else country
        level = None if rng.random() < 0.03 else 1 + min(int(rng.expovariate(1 / 15)), 119)

        inventory = {currency: rng.randrange(5_000) for currency in CURRENCIES}
        held = rng.choices(items, cum_weights=item_weights, k=rng.randrange(3, 40))
        for item in held:
            inventory[item] = 0 if rng.random() < 0.10 else rng.randrange(1, 50)

        created = now - timedelta(days=rng.randrange(1, 900), seconds=rng.randrange(86_400))
        last_session = now - timedelta(seconds=rng.randrange(30 * 86_400))
        spent = round(rng.paretovariate(1.5) * 5 - 5, 2) if rng.random() < 0.3 else 0.0
        profiles.append(
            Profile(
                player_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                credential=rng.choice(("apple_credential", "google_credential", "guest")),
                created=created,
                modified=last_session,
                last_session=last_session,
                total_spent=spent,
                total_refund=0.0,
                total_transactions=rng.randrange(20) if spent else 0,
                devices=(
                    Device(id=1, model="apple iphone 11", carrier="vodafone", firmware="123"),
                ),
                level=level,
                xp=(level or 1) * rng.randrange(100, 1_000),
                total_playtime=rng.randrange(10_000),
                country=country,
                language=rng.choice(("en", "fr", "de", "es", "pt", "ja")),
                inventory=inventory,
                clan=Clan(id=str(rng.randrange(10**6)), name="clan")
                if rng.random() < 0.4
                else None,
                custom_fields={"_customfield": "mycustom"},
            )
        )
    return profiles


def make_requests(count: int, *, seed: int = 0, now: datetime = BENCH_NOW) -> list[Request]:
    """The players of `make_profiles(count, seed=seed)`, each asking for a game by GAMES' shares."""
    rng = random.Random(f"requests:{seed}")
    game_names = [game for game, _ in GAMES]
    game_weights = list(itertools.accumulate(share for _, share in GAMES))
    return [
        Request(profile, rng.choices(game_names, cum_weights=game_weights)[0])
        for profile in make_profiles(count, seed=seed, now=now)
    ]


def _zipf_cumulative(size: int, exponent: float = 1.1) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(size)))


def _window(rng: random.Random, today: datetime) -> tuple[datetime, datetime]:
    draw = rng.random()
    if draw < 0.10:  # expired
        end = today - timedelta(days=rng.randrange(1, 30))
        return end - timedelta(days=rng.randrange(1, 30)), end
    if draw < 0.20:  # not started yet
        start = today + timedelta(days=rng.randrange(1, 30))
        return start, start + timedelta(days=rng.randrange(1, 30))
    return today - timedelta(days=rng.randrange(60)), today + timedelta(days=rng.randrange(1, 60))


def _campaign_countries(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.35:
        return ()
    codes = [code for code, _ in COUNTRIES]
    # Campaigns target the big markets more often, like players are found there.
    chosen = dict.fromkeys(
        rng.choices(codes, weights=[w for _, w in COUNTRIES], k=rng.randrange(1, 7))
    )
    # Hand-written catalogs mix case now and then; matching must not care.
    return tuple(code.lower() if rng.random() < 0.1 else code for code in chosen)


def _pick_items(
    rng: random.Random,
    items: Sequence[str],
    cum_weights: Sequence[float],
    count_shares: Sequence[float],
) -> tuple[str, ...]:
    """0, 1, 2... popularity-weighted distinct items, how many drawn by `count_shares`."""
    how_many = rng.choices(range(len(count_shares)), weights=count_shares)[0]
    picked: dict[str, None] = {}
    while len(picked) < how_many:
        picked[rng.choices(items, cum_weights=cum_weights)[0]] = None
    return tuple(picked)
