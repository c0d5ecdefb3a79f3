"""Targeting for the engine benchmark: `where` conditions, segments and request contexts
laid over bench/workload.py's catalogs and players, reproducibly.

    catalog = targeted_catalog(make_catalog(1_000, seed=1), seed=1)
    contexts = request_contexts(len(requests), seed=1)

Half the campaigns get a `where` of 2 to 4 clauses drawn from what live-ops teams
target beyond level, country and items (spend, recency, clan, app version, platform,
custom fields), and a fifth of all campaigns use one of the catalog's segments. Each
draw has its own seeded generator, so the underlying catalog and players are the same
as the plain benchmark's.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from services.domain.campaign import Catalog
from services.domain.conditions import parse_condition, parse_segments

SEGMENTS: Mapping[str, object] = {
    "spenders": {"total_spent": {"$gte": 20}},
    "lapsed": {"last_session": {"$lt": {"$ago": "14d"}}},
    "veterans": {"created": {"$lt": {"$ago": "365d"}}, "level": {"$gte": 20}},
    "clan_members": {"clan.id": {"$exists": True}},
    "new_app": {"context.app_version": {"$vgte": "2.3.0"}},
}

# Clauses a campaign's `where` draws from: (path, operand), one per path.
CLAUSES: tuple[tuple[str, Any], ...] = (
    ("total_spent", {"$gte": 5}),
    ("total_spent", {"$lt": 1}),
    ("last_session", {"$gte": {"$ago": "7d"}}),
    ("last_session", {"$lt": {"$ago": "3d"}}),
    ("total_transactions", {"$gte": 3}),
    ("created", {"$gte": {"$ago": "90d"}}),
    ("clan.id", {"$exists": True}),
    ("xp", {"$gte": 2_000}),
    ("language", {"$in": ["en", "fr", "de"]}),
    ("_customfield", {"$in": ["mycustom", "vip"]}),
    ("_customfield", "vip"),
    ("context.platform", "ios"),
    ("context.platform", {"$in": ["ios", "android"]}),
    ("context.app_version", {"$vgte": "2.1.0"}),
    ("context.locale", {"$ne": "ja-JP"}),
    ("devices.model", "apple iphone 11"),
    ("total_playtime", {"$gte": 1_000}),
)
PLATFORMS = ("ios", "android", "android", "web")
APP_VERSIONS = ("2.0.4", "2.1.0", "2.2.7", "2.3.0", "2.3.1", "2.4.0-beta.1")
LOCALES = ("en-US", "en-GB", "fr-FR", "de-DE", "ja-JP", "pt-BR")


def targeted_catalog(catalog: Catalog, *, seed: int = 0) -> Catalog:
    """`catalog` with `where` on half its campaigns (a fifth of all using a segment),
    and the segments; a new version."""
    rng = random.Random(f"targeting:{seed}")
    segments = parse_segments(SEGMENTS)
    names = sorted(segments)
    campaigns = []
    for campaign in catalog.campaigns:
        draw = rng.random()
        if draw >= 0.5:
            campaigns.append(campaign)
            continue
        document: dict[str, Any] = {}
        # 0.4 of the half with a where: a fifth of all campaigns.
        if draw < 0.2:
            document["$segment"] = rng.choice(names)
        clauses = rng.randint(2, 4)
        while len(document) < clauses:
            path, operand = rng.choice(CLAUSES)
            document.setdefault(path, operand)
        where = parse_condition(document, segments=segments, where="matchers.where")
        campaigns.append(replace(campaign, where=where))
    return Catalog(
        version=f"{catalog.version}-targeted",
        campaigns=tuple(campaigns),
        segments=tuple(segments[name] for name in names),
    )


def request_contexts(count: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """What game servers send with each request: platform, app version, locale."""
    rng = random.Random(f"contexts:{seed}")
    return [
        {
            "platform": rng.choice(PLATFORMS),
            "app_version": rng.choice(APP_VERSIONS),
            "locale": rng.choice(LOCALES),
        }
        for _ in range(count)
    ]


def custom_tiers(count: int, *, seed: int = 0) -> list[str]:
    """A `_customfield` value per player (the workload gives every one "mycustom")."""
    rng = random.Random(f"tiers:{seed}")
    return [rng.choice(("mycustom", "mycustom", "vip", "free")) for _ in range(count)]
