"""`--processes 2` beside `--processes 1`: the real CLI matcher, on one file store.

    apt-get install nghttp2-client        # h2load, the load generator
    uv run python -m bench.processes      # about four minutes; --quick for a smoke run

Starts `profile-matcher campaigns` (the demo catalog) and two `profile-matcher
matcher --store FILE` processes, one with `--processes 1` and one with `--processes
2`, on the same file seeded through the store API with the sample player and
100,000 generated ones. Then, in interleaved rounds so that drift on a shared
machine hits both alike, h2load loads each with GetClientConfig for the sample player,
and each round prints the pair side by side and the ratio 2-process/1-process.

The kernel spreads connections, not calls, over the workers sharing the port: h2load
opens 16 connections by default (-c16 -m8, 128 calls in flight), so that each worker
gets several and an uneven split costs little. h2load runs with one thread (-t1):
its own CPU is printed, because on a 2-CPU machine whatever it takes is a CPU share
the servers do not get. Server CPU per request sums the whole process tree (the
supervising parent and every worker), read from /proc over the middle of each run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.e2e import WARM_UP_SECONDS, LoadResult, ProcessCounters, measure
from bench.serve import SAMPLE_PLAYER
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from services.demo.players import generate_players, sample_profile
from services.domain.profile_json import profile_from_document
from services.storage.sqlite_store import SQLiteProfileStore

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "services.cli"]
SEED_BATCH = 5_000


def seed(path: Path, players: int) -> None:
    store = SQLiteProfileStore.open(path, timeout=30)
    try:
        docs = [sample_profile(), *generate_players(players)]
        for start in range(0, len(docs), SEED_BATCH):
            store.upsert_many([profile_from_document(d) for d in docs[start : start + SEED_BATCH]])
    finally:
        store.close()


@contextlib.contextmanager
def cli(argv: list[str], ready: str) -> Iterator[int]:
    """Runs `profile-matcher ARGV`; yields its pid once a log line matches `ready`."""
    process = subprocess.Popen(
        [*CLI, *argv], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line)
            if re.search(ready, line):
                break
        else:
            raise RuntimeError(f"{argv[0]} did not start:\n{''.join(lines)}")
        # Keep reading, so a full pipe never blocks the server's logging.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def process_tree(root: int) -> list[int]:
    """`root` and every process below it (the supervisor's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    return sum(
        counters.cpu_seconds
        for pid in process_tree(root)
        if (counters := ProcessCounters.read(pid)) is not None
    )


@dataclass(frozen=True)
class Run:
    load: LoadResult
    tree_cpu_us: float  # server CPU per request, parent and workers together
    h2load_cores: float  # h2load's CPU seconds per second of the run


def run_once(port: int, pid: int, seconds: int, connections: int, streams: int) -> Run:
    request = pb.GetClientConfigRequest(player_id=SAMPLE_PLAYER)
    samples: list[tuple[float, float]] = []

    def sample_tree() -> None:
        # The same window as bench.e2e.h2load's own counters: clear of warm-up and ramp-down.
        time.sleep(WARM_UP_SECONDS + 0.5)
        samples.append((time.monotonic(), tree_cpu_seconds(pid)))
        time.sleep(max(seconds - 1.0, 0.5))
        samples.append((time.monotonic(), tree_cpu_seconds(pid)))

    sampler = threading.Thread(target=sample_tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    sampler.start()
    load = measure(
        (port, pid),
        "GetClientConfig",
        request,
        seconds=seconds,
        connections=connections,
        streams=streams,
    )
    elapsed = time.monotonic() - started
    sampler.join()
    # The servers are children too, but only h2load ended (and was waited for) here.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    h2load_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    (t0, cpu0), (t1, cpu1) = samples
    served = load.requests_per_second * (t1 - t0)
    return Run(load, (cpu1 - cpu0) * 1e6 / served, h2load_cpu / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--streams", type=int, default=8, help="concurrent streams per connection")
    parser.add_argument("--processes", type=int, default=2, help="the side measured against 1")
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load not found: apt-get install nghttp2-client")
    seconds, rounds = (3, 1) if args.quick else (10, 5)
    with tempfile.TemporaryDirectory() as tmp:
        store, catalog = Path(tmp) / "profiles.db", Path(tmp) / "catalog.json"
        seed(store, args.players)
        subprocess.run([*CLI, "demo-catalog", str(catalog)], cwd=ROOT, check=True)
        matcher = ["matcher", "--host", "127.0.0.1", "--store", str(store), "--drain-delay", "0"]
        with (
            cli(
                ["campaigns", "--catalog", str(catalog), "--port", "50072", "--drain-delay", "0"],
                "ready on",
            ),
            cli(
                [*matcher, "--port", "50071", "--campaigns", "127.0.0.1:50072"],
                "matcher serving on port",
            ) as one,
            cli(
                [*matcher, "--port", "50073", "--campaigns", "127.0.0.1:50072",
                 "--processes", str(args.processes)],
                "worker processes serving on port",
            ) as many,
        ):  # fmt: skip
            pairs = []
            for _ in range(rounds):
                load = (seconds, args.connections, args.streams)
                pairs.append((run_once(50071, one, *load), run_once(50073, many, *load)))
    report(args, seconds, rounds, pairs)


def report(
    args: argparse.Namespace, seconds: int, rounds: int, pairs: list[tuple[Run, Run]]
) -> None:
    print(
        f"# --processes {args.processes} beside --processes 1 ({datetime.now(UTC):%Y-%m-%d}, "
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{len(os.sched_getaffinity(0))} CPUs)"
    )
    print(
        f"h2load -t1 -c{args.connections} -m{args.streams}, {seconds} s per run after "
        f"{WARM_UP_SECONDS} s warm-up, {rounds} interleaved rounds; GetClientConfig, "
        f"store: SQLite file, {args.players:,} players; server CPU over the process tree\n"
    )
    print(
        "| round | procs | req/s | p50 ms | p99 ms | server CPU µs/req | h2load CPUs "
        "| ratio req/s | ratio CPU/req |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios, cpu_ratios = [], []
    for number, (one, many) in enumerate(pairs, 1):
        ratio = many.load.requests_per_second / one.load.requests_per_second
        cpu_ratio = many.tree_cpu_us / one.tree_cpu_us
        ratios.append(ratio)
        cpu_ratios.append(cpu_ratio)
        for procs, run, extra in (
            (1, one, "| |"),
            (args.processes, many, f"| {ratio:.2f}x | {cpu_ratio:.2f}x |"),
        ):
            r = run.load
            print(
                f"| {number} | {procs} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} "
                f"| {r.p99_ms:.2f} | {run.tree_cpu_us:.0f} | {run.h2load_cores:.2f} {extra}"
            )
    print(
        f"\n{args.processes}-process / 1-process req/s by round: "
        f"{', '.join(f'{x:.2f}x' for x in ratios)} (median {statistics.median(ratios):.2f}x); "
        f"CPU per request: {', '.join(f'{x:.2f}x' for x in cpu_ratios)} "
        f"(median {statistics.median(cpu_ratios):.2f}x)"
    )


if __name__ == "__main__":
    main()
