"""Benchmark of targeting conditions: Condition.compile() against Condition.evaluate().

    uv run python -m bench.conditions            # the figures in BENCHMARKS.md
    uv run python -m bench.conditions --quick    # a short run, same shape

It builds conditions of 2 to 4 clauses from templates studios write (level and country,
spend and recency with `$ago`, devices and versions, clans, inventory, custom fields,
`$or`, `$elemMatch`, request context), and profiles as documents with every field games
store. It checks that both evaluators agree on every (profile, condition) pair, then
times each template on the same profiles, best of several passes, and prints Markdown:
time per condition evaluated, the share of profiles it holds for, and the cost of
parsing and compiling one condition.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.engine import machine
from services.domain.conditions import Condition, parse_condition

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
COUNTRIES = ("US", "CA", "GB", "DE", "FR", "BR", "JP", "RO")
MODELS = ("iPhone 13", "iPhone 15", "Pixel 8", "Galaxy S23", "Redmi 12")
VERSIONS = ("2.1.0", "2.2.0", "2.3.0-beta.1", "2.3.0", "2.4.1")
ITEMS = tuple(f"item_{i}" for i in range(1, 30))

Template = Callable[[random.Random], dict[str, Any]]
# name -> (clauses, template)
TEMPLATES: dict[str, tuple[int, Template]] = {
    "level range + country": (
        2,
        lambda r: {
            "level": {"$gte": r.randint(1, 20), "$lte": r.randint(20, 60)},
            "country": {"$in": r.sample(COUNTRIES, 3)},
        },
    ),
    "spender, recent purchase ($ago)": (
        2,
        lambda r: {
            "total_spent": {"$gt": r.choice([0, 5, 50])},
            "last_purchase": {"$gte": {"$ago": f"{r.choice([7, 14, 30])}d"}},
        },
    ),
    "lapsed payer ($or, $exists)": (
        3,
        lambda r: {
            "total_spent": {"$gt": 0},
            "$or": [
                {"last_purchase": {"$lt": {"$ago": "30d"}}},
                {"last_purchase": {"$exists": False}},
            ],
        },
    ),
    "device model + app version (context)": (
        3,
        lambda r: {
            "devices.model": {"$in": r.sample(MODELS, 2)},
            "context.platform": "ios",
            "context.app_version": {"$vgte": r.choice(VERSIONS)},
        },
    ),
    "inventory has / has not + level": (
        3,
        lambda r: {
            "inventory." + r.choice(ITEMS): {"$gt": 0},
            "inventory." + r.choice(ITEMS): {"$not": {"$gt": 0}},
            "level": {"$gte": r.randint(1, 30)},
        },
    ),
    "clan member, custom field, new player": (
        3,
        lambda r: {
            "clan.id": {"$exists": True},
            "_churn_risk": {"$gte": r.choice([0.3, 0.5, 0.7])},
            "created": {"$gte": {"$ago": "90d"}},
        },
    ),
    "$elemMatch device + country + language": (
        4,
        lambda r: {
            "devices": {"$elemMatch": {"model": r.choice(MODELS), "firmware": {"$vgte": "16"}}},
            "country": r.choice(COUNTRIES),
            "language": {"$ne": "fr"},
            "level": {"$gt": r.randint(0, 10)},
        },
    ),
}


def make_conditions(count: int, rng: random.Random) -> list[tuple[str, Condition]]:
    names = list(TEMPLATES)
    made = []
    for index in range(count):
        name = names[index % len(names)]
        made.append((name, parse_condition(TEMPLATES[name][1](rng))))
    return made


def make_profile(rng: random.Random) -> dict[str, Any]:
    def ago(days: int) -> datetime:
        return NOW - timedelta(days=rng.randint(0, days), seconds=rng.randint(0, 86_399))

    profile: dict[str, Any] = {
        "player_id": f"p{rng.randrange(10**9)}",
        "created": ago(400),
        "level": rng.randint(1, 60),
        "country": rng.choice(COUNTRIES),
        "language": rng.choice(["en", "fr", "de", "pt", "ja"]),
        "total_spent": rng.choice([0, 0, 0, 4.99, 19.99, 120.0]),
        "devices": [
            {
                "id": rng.randint(1, 10**6),
                "model": rng.choice(MODELS),
                "carrier": "carrier",
                "firmware": rng.choice(["15.1", "16.4", "17.2", "14"]),
            }
            for _ in range(rng.choice([1, 1, 1, 2]))
        ],
        "inventory": {item: rng.randint(0, 3) for item in rng.sample(ITEMS, rng.randint(0, 8))},
        "_churn_risk": round(rng.random(), 2),
    }
    if profile["total_spent"]:
        profile["last_purchase"] = ago(60)
    if rng.random() < 0.4:
        profile["clan"] = {"id": f"c{rng.randint(1, 99)}", "name": "Clan"}
    return profile


def make_context(rng: random.Random) -> dict[str, Any]:
    return {"platform": rng.choice(["ios", "android"]), "app_version": rng.choice(VERSIONS)}


@dataclass(frozen=True, slots=True)
class Row:
    template: str
    clauses: int
    holds: float
    reference_us: float
    compiled_us: float
    build_us: float


Pair = tuple[Mapping[str, Any], Mapping[str, Any]]


def best_per_call_us(check: Callable[[Pair], bool], pairs: Sequence[Pair], repeats: int) -> float:
    """Best wall time over `repeats` passes, per call, in microseconds (collector paused)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            for pair in pairs:
                check(pair)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best / len(pairs) * 1e6


def measure(conditions: int, profiles: int, repeats: int, seed: int) -> list[Row]:
    rng = random.Random(seed)
    made = make_conditions(conditions, rng)
    pairs: list[Pair] = [(make_profile(rng), make_context(rng)) for _ in range(profiles)]
    rows = []
    for template, (clauses, build) in TEMPLATES.items():
        chosen = [condition for name, condition in made if name == template]
        compiled = [condition.compile() for condition in chosen]
        expected = [c.evaluate(p, ctx, NOW) for c in chosen for p, ctx in pairs]
        answers = [f(p, ctx, NOW) for f in compiled for p, ctx in pairs]
        if answers != expected:
            raise SystemExit(f"{template}: compiled and reference answers differ")
        one_compiled, one_condition = compiled[0], chosen[0]

        def fast(pair: Pair, f: Any = one_compiled) -> bool:
            return bool(f(pair[0], pair[1], NOW))

        def slow(pair: Pair, c: Condition = one_condition) -> bool:
            return c.evaluate(pair[0], pair[1], NOW)

        started = time.perf_counter()
        for _ in range(200):
            parse_condition(build(rng)).compile()
        build_us = (time.perf_counter() - started) / 200 * 1e6
        rows.append(
            Row(
                template=template,
                clauses=clauses,
                holds=sum(expected) / len(expected),
                reference_us=best_per_call_us(slow, pairs, repeats),
                compiled_us=best_per_call_us(fast, pairs, repeats),
                build_us=build_us,
            )
        )
    return rows


def render(rows: Sequence[Row], conditions: int, profiles: int, repeats: int, command: str) -> str:
    mean_compiled = sum(r.compiled_us for r in rows) / len(rows)
    mean_reference = sum(r.reference_us for r in rows) / len(rows)
    lines = [
        f"Command: `{command}`",
        "",
        *machine(),
        "",
        f"{conditions} conditions from {len(rows)} templates, {profiles} profiles; both "
        "evaluators agreed on every (profile, condition) pair. Microseconds per condition "
        f"evaluated (the call includes the wrapper that unpacks the pair), best of {repeats} "
        "passes; build: parse + compile one condition.",
        "",
        "| template | clauses | holds | reference µs | compiled µs | speedup | build µs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.template} | {r.clauses} | {r.holds:.0%} | {r.reference_us:.2f} "
        f"| {r.compiled_us:.2f} | {r.reference_us / r.compiled_us:.0f}x | {r.build_us:.0f} |"
        for r in rows
    ]
    lines += [
        "",
        f"Mean over templates: compiled {mean_compiled:.2f} µs, reference "
        f"{mean_reference:.2f} µs per condition; so 500 conditions cost about "
        f"{mean_compiled * 500:,.0f} µs compiled per profile when none is filtered out first.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.conditions", description="Condition.compile() against evaluate()"
    )
    parser.add_argument("--quick", action="store_true", help="fewer profiles and repeats")
    parser.add_argument("--conditions", type=int, default=500)
    parser.add_argument("--profiles", type=int, help="profiles (default 2000, quick 200)")
    parser.add_argument("--repeats", type=int, help="timed passes, best kept (default 5, quick 2)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    profiles = args.profiles or (200 if args.quick else 2_000)
    repeats = args.repeats or (2 if args.quick else 5)
    conditions = max(args.conditions, len(TEMPLATES))
    rows = measure(conditions, profiles, repeats, args.seed)
    command = "uv run python -m bench.conditions" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else ""
    )
    print(render(rows, conditions, profiles, repeats, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
