"""End to end, this checkout beside another one (an older commit), on the same catalog.

    git worktree add /tmp/before <commit> && (cd /tmp/before && uv sync --locked)
    uv run python -m bench.against /tmp/before       # about four minutes

Both checkouts serve the catalog that the other one's `demo-catalog` writes, so the
older code understands every line of it and both answer the sample player alike.
An older checkout's servers serve the one way they know; one whose bench.serve takes
--io serves as this one does, and its echo answers what its own matcher answered. The
rounds interleave the two checkouts' echo and matcher (bench/e2e.py's servers and
h2load runs, each in its own process), so drift on a shared machine hits all four
alike; each round's figures of this checkout over the other's are the fair reading.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench.e2e import (
    LoadResult,
    fetch_response,
    measure,
    other_catalog,
    server,
)
from bench.serve import SAMPLE_PLAYER
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from services.matcher.settings import DEFAULT_IO, EMBEDDED_MATCH_WORKERS, IO_MODES

PLAYERS = 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout, with its own .venv")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--io",
        choices=IO_MODES,
        default=DEFAULT_IO,
        help="how this checkout's servers serve (default: the matcher's own default)",
    )
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load not found: apt-get install nghttp2-client")
    other: Path = args.other.resolve()
    load = {"seconds": args.seconds, "connections": 4, "streams": 8}
    single = pb.GetClientConfigRequest(player_id=SAMPLE_PLAYER)
    threads = (16, EMBEDDED_MATCH_WORKERS)
    io = ("--io", args.io)
    runs: dict[str, list[LoadResult]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        catalog = other_catalog(other, tmp)
        with contextlib.ExitStack() as servers:
            # An older commit's servers have one way to serve and its echo a list of
            # its own to answer; a newer one's take --io, and --response with what
            # its matcher answered.
            knows = (other / "bench" / "serve.py").read_text()
            other_io = io if "--io" in knows else ()
            other_matcher = servers.enter_context(
                server("matcher", 50071, PLAYERS, *threads, *other_io, checkout=other)
            )
            answer = (
                ("--response", str(fetch_response(50071, Path(tmp))))
                if "--response" in knows
                else ()
            )
            other_echo = servers.enter_context(
                server("echo", 50072, 0, *threads, *other_io, *answer, checkout=other)
            )
            matcher = servers.enter_context(
                server("matcher", 50073, PLAYERS, *threads, *io, "--catalog", str(catalog))
            )
            echo = servers.enter_context(
                server(
                    "echo",
                    50074,
                    0,
                    *threads,
                    *io,
                    "--response",
                    str(fetch_response(50073, Path(tmp))),
                )
            )
            targets = {
                "other echo": (50072, other_echo),
                "this echo": (50074, echo),
                "other matcher": (50071, other_matcher),
                "this matcher": (50073, matcher),
            }
            for _ in range(args.rounds):
                for name, target in targets.items():
                    runs.setdefault(name, []).append(
                        measure(target, "GetClientConfig", single, **load)
                    )
    print(
        f"# This checkout (--io {args.io}) beside {other}, GetClientConfig, "
        f"{args.rounds} interleaved rounds"
    )
    print("| server | req/s by round | server CPU µs/req by round |")
    print("| --- | --- | --- |")
    for name, results in runs.items():
        rps = ", ".join(f"{r.requests_per_second:,.0f}" for r in results)
        cpu = ", ".join("n/a" if r.cpu_us is None else f"{r.cpu_us:.0f}" for r in results)
        print(f"| {name} | {rps} | {cpu} |")
    for what in ("echo", "matcher"):
        ratios = [
            mine.requests_per_second / theirs.requests_per_second
            for mine, theirs in zip(runs[f"this {what}"], runs[f"other {what}"], strict=True)
        ]
        print(
            f"this / other {what} req/s by round: {', '.join(f'{x:.0%}' for x in ratios)} "
            f"(median {statistics.median(ratios):.0%})"
        )


if __name__ == "__main__":
    main()
