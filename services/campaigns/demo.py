"""A demo catalog whose windows are placed around `now`, so it always has live campaigns.

It shows targeting (two campaigns with `where`, through segments and the request's
context) and the experiments: a 50% rollout split into two priced variants, a group

of pop-ups of which a player sees one (with a 5% holdout), and a daily happy hour
scheduled in Paris time, placed so that it is on when the catalog is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.campaigns.catalog_writer import write_catalog_file
from services.domain.campaign import Campaign, LevelRange
from services.domain.conditions import Condition, parse_condition, parse_segments
from services.domain.experiment import Group, Rollout, Variant
from services.domain.schedule import Schedule, zone

DAY = timedelta(days=1)
DEMO_GROUPS = (Group("popup", max_active=1, holdout_threshold=5_000),)
HAPPY_HOUR_ZONE = "Europe/Paris"
# Named conditions the demo's targeted campaigns use.
DEMO_SEGMENTS: Mapping[str, object] = {
    "spenders": {"total_spent": {"$gte": 100}},
    "lapsed": {"last_session": {"$lt": {"$ago": "14d"}}},
}


def demo_segments() -> tuple[Condition, ...]:
    segments = parse_segments(DEMO_SEGMENTS)
    return tuple(segments[name] for name in sorted(segments))


def demo_campaigns(now: datetime) -> tuple[Campaign, ...]:
    """Two games; most campaigns live at `now`, one disabled, one expired, one not
    started; two targeted with `where` (segments and the request's context)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.replace(microsecond=0)
    live = (now - DAY, now + 30 * DAY)
    edited = now - 2 * DAY

    def campaign(
        game: str,
        name: str,
        priority: float,
        window: tuple[datetime, datetime] = live,
        *,
        enabled: bool = True,
        level: tuple[int, int] | None = None,
        countries: tuple[str, ...] = (),
        has: tuple[str, ...] = (),
        not_has: tuple[str, ...] = (),
        where: dict[str, Any] | None = None,
    ) -> Campaign:
        return Campaign(
            game=game,
            name=name,
            priority=priority,
            start_date=window[0],
            end_date=window[1],
            enabled=enabled,
            level=None if level is None else LevelRange(*level),
            countries=countries,
            required_items=has,
            forbidden_items=not_has,
            last_updated=edited,
            where=None if where is None else parse_condition(where, segments=DEMO_SEGMENTS),
        )

    return (
        # The sample data/campaign.json, moved to a live window.
        campaign(
            "mygame",
            "mycampaign",
            10.5,
            level=(1, 3),
            countries=("US", "RO", "CA"),
            has=("item_1",),
            not_has=("item_4",),
        ),
        campaign("mygame", "welcome_pack", 5, level=(1, 5), not_has=("welcome_pack",)),
        campaign(
            "mygame",
            "weekend_sale",
            20,
            (now - 2 * DAY, now + 2 * DAY),
            countries=("US", "CA", "GB", "DE"),
        ),
        campaign("mygame", "veteran_bundle", 7.25, level=(10, 99), has=("item_1", "item_2")),
        campaign("mygame", "halloween_event", 15, (now - 60 * DAY, now - 30 * DAY)),
        campaign("mygame", "paused_offer", 12, countries=("RO",), enabled=False),
        campaign("spacegame", "starter_fleet", 10, level=(0, 10), not_has=("starter_ship",)),
        campaign("spacegame", "europe_launch", 8, countries=("DE", "FR", "ES", "IT", "RO")),
        campaign("spacegame", "season_two", 30, (now + 7 * DAY, now + 60 * DAY), level=(5, 50)),
        campaign("spacegame", "miner_boost", 10, has=("mining_laser",), not_has=("auto_miner",)),
        # Targeting: the sample player (lapsed since 2021, "mycustom", in a clan) gets
        # this one when the game server sends an app_version of 2.3.0 or later.
        campaign(
            "mygame",
            "come_back_offer",
            30,
            level=(1, 30),
            countries=("CA", "US"),
            where={
                "$segment": "lapsed",
                "_customfield": {"$in": ["mycustom", "vip"]},
                "context.app_version": {"$vgte": "2.3.0"},
                "$or": [{"clan.id": {"$exists": True}}, {"total_transactions": {"$gte": 3}}],
            },
        ),
        campaign(
            "mygame",
            "ios_spender_deal",
            18,
            where={"$segment": "spenders", "context.platform": {"$in": ["ios", "ipados"]}},
        ),
        *_experiments(
            campaign("mygame", "starter_pack", 40, not_has=("starter_pack",)),
            campaign("mygame", "daily_deal", 25),
            campaign("spacegame", "happy_hour", 9),
            now,
        ),
    )


def _experiments(
    starter_pack: Campaign, daily_deal: Campaign, happy_hour: Campaign, now: datetime
) -> tuple[Campaign, ...]:
    """The demo's experiments: a rollout with a variant split and a campaign competing
    with it in the "popup" group, and a daily schedule that is on at `now`."""
    local_hour = now.astimezone(zone(HAPPY_HOUR_ZONE)).hour
    return (
        replace(
            starter_pack,
            rollout=Rollout(50_000),
            variants=(
                Variant("control", 50, {"price": 4.99}),
                Variant("cheaper", 50, {"price": 2.99}),
            ),
            group="popup",
        ),
        replace(daily_deal, payload={"discount_percent": 20}, group="popup"),
        replace(
            happy_hour,
            payload={"xp_multiplier": 2},
            schedule=Schedule(f"0 {local_hour} * * *", timedelta(hours=2), HAPPY_HOUR_ZONE),
        ),
    )


def write_demo_catalog(path: Path, now: datetime) -> Path:
    """Writes the demo catalog to `path` in the users' file format, in one rename so a
    server already following `path` never reads it half-written; returns `path`."""
    return write_catalog_file(path, demo_campaigns(now), demo_segments(), DEMO_GROUPS)
