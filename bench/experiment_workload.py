"""The benchmark catalogs with experiments added, reproducibly.

    catalog = with_experiments(make_catalog(1_000, seed=1), seed=1)

Shares of the campaigns: 30% with a rollout (1% to 100%, three decimals), 10% split
into two or three weighted variants with payloads, 5% on a recurring schedule (weekly,
daily, every few hours, in several time zones); a quarter in one of five groups, one
per game as a game's pop-ups are (max_active 1 to 3, holdouts of 0 to 10%); a few
campaigns without variants carry a payload.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from bench.workload import GAMES
from services.domain.campaign import Campaign, Catalog
from services.domain.experiment import Group, Rollout, Variant
from services.domain.schedule import Schedule

ROLLOUT_SHARE = 0.30
VARIANT_SHARE = 0.10
SCHEDULE_SHARE = 0.05
GROUPED_SHARE = 0.25
SCHEDULES = (
    Schedule("0 18 * * FRI", timedelta(hours=54), "Europe/Paris"),
    Schedule("0 12 * * *", timedelta(hours=3), "America/New_York"),
    Schedule("0 */4 * * *", timedelta(hours=1), "UTC"),
    Schedule("30 20 * * MON-THU", timedelta(hours=2), "Asia/Tokyo"),
)


def group_name(game: str) -> str:
    return f"{game}/popup"


def with_experiments(catalog: Catalog, *, seed: int = 0) -> Catalog:
    rng = random.Random(seed)
    groups = tuple(
        Group(
            group_name(game),
            max_active=rng.randint(1, 3),
            holdout_threshold=rng.choice((0, 2_500, 5_000, 10_000)),
        )
        for game, _ in GAMES
    )
    campaigns = tuple(_experiment(rng, c) for c in catalog.campaigns)
    return Catalog(f"{catalog.version}-experiments", campaigns, groups=groups)


def _experiment(rng: random.Random, campaign: Campaign) -> Campaign:
    rollout = None
    if rng.random() < ROLLOUT_SHARE:
        rollout = Rollout(rng.randint(1_000, 100_000))
    variants: tuple[Variant, ...] = ()
    payload = None
    if rng.random() < VARIANT_SHARE:
        variants = tuple(
            Variant(name, rng.randint(1, 100), {"price": round(rng.uniform(0.99, 19.99), 2)})
            for name in ("control", "cheaper", "bundle")[: rng.randint(2, 3)]
        )
    elif rng.random() < 0.2:
        payload = {"discount_percent": rng.choice((10, 20, 50))}
    schedule = rng.choice(SCHEDULES) if rng.random() < SCHEDULE_SHARE else None
    group = group_name(campaign.game) if rng.random() < GROUPED_SHARE else ""
    return replace(
        campaign,
        rollout=rollout,
        variants=variants,
        payload=payload,
        group=group,
        schedule=schedule,
    )
