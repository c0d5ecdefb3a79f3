"""The engine benchmark's targeting table: catalogs whose campaigns carry `where`.

For each size, the plain catalog (bench/workload.py) and the same catalog with targeting
(bench/targeting.py: `where` on half the campaigns, a fifth using a segment), timed in
the same run on the same requests, each with its context:
- before: the compiled engine on the plain catalog (given a Profile, and given the
  stored message);
- after: the compiled engine on the targeted catalog, given a Profile (conditions read
  it through a lazy view), and given what serving has, the stored Profile message
  (ServingRecord and a lazy view over the message, made per request);
- the reference engine on the targeted catalog, clause by clause.
All three answers are checked equal on every request before timing.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench.targeting import custom_tiers, request_contexts, targeted_catalog
from bench.workload import BENCH_NOW, Request, make_catalog
from services.codecs.profile_message import profile_to_message, serving_record
from services.codecs.profile_view import MessageView
from services.matching import CompiledCatalog, match_reference


@dataclass(frozen=True, slots=True)
class TargetedTiming:
    campaigns: int
    with_where: int
    scenario: str
    matches_per_profile: float
    reference_us: float
    plain_us: float
    plain_served_us: float
    compiled_us: float
    served_us: float


def _best_us(
    runs: Sequence[Callable[[Any], object]], calls: Sequence[Any], repeats: int
) -> list[float]:
    """Best pass of each run, per call, in microseconds. The runs take turns, pass by
    pass, so that a busy spell on the machine falls on all of them alike rather than on
    whichever was being timed then."""
    best = [float("inf")] * len(runs)
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            for index, run in enumerate(runs):
                started = time.perf_counter()
                for call in calls:
                    run(call)
                best[index] = min(best[index], time.perf_counter() - started)
    finally:
        gc.enable()
    return [seconds / len(calls) * 1e6 for seconds in best]


def measure_targeted(
    size: int, requests: Sequence[Request], repeats: int, seed: int
) -> list[TargetedTiming]:
    plain = make_catalog(size, seed=seed)
    targeted = targeted_catalog(plain, seed=seed)
    before, after = CompiledCatalog(plain), CompiledCatalog(targeted)
    contexts = request_contexts(len(requests), seed=seed)
    tiers = custom_tiers(len(requests), seed=seed)
    profiles = [
        replace(r.profile, custom_fields={"_customfield": tier})
        for r, tier in zip(requests, tiers, strict=True)
    ]
    messages = [profile_to_message(p) for p in profiles]
    records = [serving_record(m) for m in messages]
    now = BENCH_NOW

    timings = []
    for scenario, games in (
        ("own game", [r.game for r in requests]),
        ("all games", [None] * len(requests)),
    ):
        calls = list(zip(profiles, records, messages, games, contexts, strict=True))

        def reference(call: Any) -> tuple[str, ...]:
            profile, _, _, game, context = call
            return match_reference(profile, targeted.campaigns, now, game, context)

        def plain_run(call: Any) -> tuple[str, ...]:
            profile, _, _, game, context = call
            return before.match(profile, now, game, context=context)

        def plain_served(call: Any) -> tuple[str, ...]:
            _, record, message, game, context = call
            return before.match(record, now, game, context=context, document=MessageView(message))

        def compiled(call: Any) -> tuple[str, ...]:
            profile, _, _, game, context = call
            return after.match(profile, now, game, context=context)

        def served(call: Any) -> tuple[str, ...]:
            _, record, message, game, context = call
            return after.match(record, now, game, context=context, document=MessageView(message))

        answers = [reference(call) for call in calls]
        for engine in (compiled, served):
            wrong = sum(engine(call) != want for call, want in zip(calls, answers, strict=True))
            if wrong:
                raise SystemExit(f"{size} campaigns, targeted, {scenario}: {wrong} differ")
        # The reference is far slower: timed apart, so that it does not stretch the
        # turns of the others.
        (reference_us,) = _best_us([reference], calls, repeats)
        plain_us, plain_served_us, compiled_us, served_us = _best_us(
            [plain_run, plain_served, compiled, served], calls, repeats
        )
        timings.append(
            TargetedTiming(
                campaigns=size,
                with_where=sum(c.where is not None for c in targeted.campaigns),
                scenario=scenario,
                matches_per_profile=sum(map(len, answers)) / len(answers),
                reference_us=reference_us,
                plain_us=plain_us,
                plain_served_us=plain_served_us,
                compiled_us=compiled_us,
                served_us=served_us,
            )
        )
    return timings


def render_targeted(timings: Sequence[TargetedTiming]) -> list[str]:
    lines = [
        "",
        "Targeting: the same catalogs with `where` on half the campaigns (2 to 4 clauses,",
        "a fifth of all campaigns using a segment), each request with its context; the",
        "compiled engine on the plain catalog (before) and on the targeted one (after),",
        "given a Profile and given the stored Profile message as serving is; all answers",
        "checked equal to the reference engine's.",
        "",
        "| campaigns | with where | request | matches/profile | reference µs "
        "| before µs | after µs | before, stored message µs | after, stored message µs |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t.campaigns:,} | {t.with_where:,} | {t.scenario} | {t.matches_per_profile:.1f} "
        f"| {t.reference_us:,.1f} | {t.plain_us:.1f} | {t.compiled_us:.1f} "
        f"| {t.plain_served_us:.1f} | {t.served_us:.1f} |"
        for t in timings
    ]
    return lines
