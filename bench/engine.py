"""Benchmark of the matching engine: CompiledCatalog.match against match_reference.

    uv run python -m bench.engine            # the figures in BENCHMARKS.md
    uv run python -m bench.engine --quick    # a short run, same shape

For each catalog size it builds a realistic catalog and a few thousand players
(bench/workload.py), checks that both engines give identical answers on every request,
then times both on the same requests, best of several repeats, and prints Markdown: the
timings, the cost of compiling each catalog, and the machine it ran on. Each size is
measured twice in the same run: the plain catalog (the baseline), then the same catalog
with experiments (bench/experiment_workload.py: rollouts, variants, groups, schedules).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.engine_targeting import TargetedTiming, measure_targeted, render_targeted
from bench.experiment_workload import with_experiments
from bench.workload import BENCH_NOW, Request, make_catalog, make_requests
from services.domain.campaign import Catalog
from services.domain.profile import Profile
from services.matching import CompiledCatalog, match_reference

SIZES = (10, 100, 1_000, 5_000)

Matcher = Callable[[Profile, str | None], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Timing:
    campaigns: int
    scenario: str
    matches_per_profile: float
    reference_us: float
    compiled_us: float

    @property
    def speedup(self) -> float:
        return self.reference_us / self.compiled_us


@dataclass(frozen=True, slots=True)
class Build:
    campaigns: int
    build_ms: float
    memory_kib: float
    experiments: bool = False


def best_per_call_us(
    matcher: Matcher, calls: Sequence[tuple[Profile, str | None]], repeats: int
) -> float:
    """Best wall time over `repeats` passes, per call, in microseconds.

    The garbage collector is paused while timing, as timeit does, so that a collection
    triggered by earlier allocations does not land on one engine's pass.
    """
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            for profile, game in calls:
                matcher(profile, game)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best / len(calls) * 1e6


def measure_build(catalog: Catalog, repeats: int, *, experiments: bool = False) -> Build:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        CompiledCatalog(catalog, at=BENCH_NOW)
        best = min(best, time.perf_counter() - started)
    # Measured apart from the timing, since tracing allocations slows them down.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        compiled = CompiledCatalog(catalog, at=BENCH_NOW)
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del compiled
    return Build(len(catalog.campaigns), best * 1e3, retained / 1024, experiments)


def measure(
    size: int, requests: Sequence[Request], repeats: int, seed: int
) -> tuple[list[Build], list[Timing]]:
    """The plain catalog (the baseline), then the same with experiments."""
    plain = make_catalog(size, seed=seed)
    builds, timings = [], []
    for catalog, suffix in ((plain, ""), (with_experiments(plain, seed=seed), ", experiments")):
        timings += _timings(catalog, requests, repeats, suffix)
        builds.append(measure_build(catalog, repeats, experiments=bool(suffix)))
    return builds, timings


def _timings(
    catalog: Catalog, requests: Sequence[Request], repeats: int, suffix: str
) -> list[Timing]:
    size = len(catalog.campaigns)
    compiled = CompiledCatalog(catalog, at=BENCH_NOW)

    def fast(profile: Profile, game: str | None) -> tuple[str, ...]:
        return compiled.match(profile, BENCH_NOW, game)

    def reference(profile: Profile, game: str | None) -> tuple[str, ...]:
        return match_reference(profile, catalog.campaigns, BENCH_NOW, game, groups=catalog.groups)

    timings = []
    scenarios: dict[str, list[tuple[Profile, str | None]]] = {
        f"own game{suffix}": [(r.profile, r.game) for r in requests],
        f"all games{suffix}": [(r.profile, None) for r in requests],
    }
    for scenario, calls in scenarios.items():
        answers = [fast(profile, game) for profile, game in calls]
        expected = [reference(profile, game) for profile, game in calls]
        wrong = sum(got != want for got, want in zip(answers, expected, strict=True))
        if wrong:
            raise SystemExit(f"{size} campaigns, {scenario}: {wrong} answers differ")
        timings.append(
            Timing(
                campaigns=size,
                scenario=scenario,
                matches_per_profile=sum(map(len, answers)) / len(answers),
                reference_us=best_per_call_us(reference, calls, repeats),
                compiled_us=best_per_call_us(fast, calls, repeats),
            )
        )
    return timings


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC",
        f"- platform: {platform.platform()}",
        f"- python: {platform.python_implementation()} {platform.python_version()}",
        f"- cpu: {cpu}, {os.cpu_count()} logical CPUs",
    ]


def render(
    builds: Sequence[Build],
    timings: Sequence[Timing],
    profiles: int,
    repeats: int,
    command: str,
    *,
    targeted: Sequence[TargetedTiming] = (),
) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        *machine(),
        "",
        f"{profiles} players per catalog, each asking for its own game (by the games' shares)",
        "and then for all games, first without experiments and then with them (30% rollouts,",
        "10% variant splits, 5% schedules, a quarter of the campaigns in 5 groups); microseconds",
        f"per profile, best of {repeats} passes; both engines gave identical answers on every",
        "request.",
        "",
        "| campaigns | request | matches/profile | reference µs | compiled µs | speedup |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t.campaigns:,} | {t.scenario} | {t.matches_per_profile:.1f} "
        f"| {t.reference_us:,.1f} | {t.compiled_us:.1f} | {t.speedup:,.0f}x |"
        for t in timings
    ]
    lines += [
        "",
        "Compiling a catalog (once per catalog version; all games plus one index per game):",
        "",
        "| campaigns | experiments | build ms | index memory KiB |",
        "|---:|---|---:|---:|",
    ]
    lines += [
        f"| {b.campaigns:,} | {'yes' if b.experiments else 'no'} | {b.build_ms:.1f} "
        f"| {b.memory_kib:,.0f} |"
        for b in builds
    ]
    if targeted:
        lines += render_targeted(targeted)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description="CompiledCatalog.match against match_reference"
    )
    parser.add_argument("--quick", action="store_true", help="fewer players and repeats")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), metavar="N")
    parser.add_argument(
        "--profiles", type=int, help="players per catalog (default 2000, quick 300)"
    )
    parser.add_argument("--repeats", type=int, help="timed passes, best kept (default 5, quick 2)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    profiles = args.profiles or (300 if args.quick else 2_000)
    repeats = args.repeats or (2 if args.quick else 5)

    requests = make_requests(profiles, seed=args.seed)
    builds, timings, targeted = [], [], []
    for size in args.sizes:
        built, rows = measure(size, requests, repeats, args.seed)
        builds += built
        timings += rows
        targeted += measure_targeted(size, requests, repeats, args.seed)
        print(f"measured {size} campaigns", file=sys.stderr)
    command = " ".join(
        ["uv run python -m bench.engine", *(argv if argv is not None else sys.argv[1:])]
    )
    print(render(builds, timings, profiles, repeats, command, targeted=targeted))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
