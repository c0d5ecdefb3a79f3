"""The servicer's GetClientConfig per call, this checkout beside another one.

    uv run python -m bench.serving_path /work/main          # about a minute
    uv run python -m bench.serving_path /work/main --rounds 21 --calls 3000
    uv run python -m bench.serving_path /work/main --batch 100 --calls 50

What a served GetClientConfig costs past gRPC: ProfileMatcherServicer.GetClientConfig
called in a tight loop for the sample player (store read, catalog, match, response),
no network and no server around it; with --batch, BatchGetClientConfig for that many
players (the sample player first). On the default aio server with the embedded
store this runs inline on the event loop, whose thread is the bottleneck, so every
microsecond here is served throughput (bench/against.py measures that end to end).

Each checkout runs in a process of its own, with its own .venv, building its matcher
as its own bench/serve.py does (bench/serving_path_worker.py) over one catalog file,
the other checkout's `demo-catalog`, so the older code understands every line of it.
The rounds interleave the two processes, so drift on a shared machine hits both
alike; the figure to read is the median of the rounds, and each round's ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.e2e import ROOT, checkout_python, other_catalog

WORKER = Path(__file__).with_name("serving_path_worker.py")


class Worker:
    """One checkout's servicer in a process of its own, timing calls on demand."""

    def __init__(self, checkout: Path, catalog: Path, players: int, batch: int) -> None:
        self.checkout = checkout
        # `-c`: the worker's text, run in `checkout`, imports that checkout's code.
        self._process = subprocess.Popen(
            [
                checkout_python(checkout),
                "-c",
                WORKER.read_text(),
                str(catalog),
                str(players),
                str(batch),
            ],
            cwd=checkout,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self._line()
        if not first.startswith("ready"):
            raise RuntimeError(f"{checkout}: {first!r}")
        self.answer = first.removeprefix("ready").strip()

    def _line(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.checkout}: the worker stopped")
        return line

    def time(self, calls: int) -> float:
        """Microseconds per call, over `calls` calls."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{calls}\n")
        self._process.stdin.flush()
        return float(self._line())

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout, with its own .venv")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--players", type=int, default=100_000, help="players in the store")
    parser.add_argument(
        "--batch", type=int, default=0, help="time BatchGetClientConfig of this many players"
    )
    args = parser.parse_args()
    if not 0 <= args.batch <= min(args.players + 1, 500):
        parser.error("--batch: 0 (single calls) or up to 500, and at most --players + 1")
    other: Path = args.other.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = other_catalog(other, tmp)
        workers = {
            "other": Worker(other, catalog, args.players, args.batch),
            "this": Worker(ROOT, catalog, args.players, args.batch),
        }
        try:
            if workers["this"].answer != workers["other"].answer:
                print(
                    "warning: the two answer the sample player differently: "
                    f"this {workers['this'].answer!r}, other {workers['other'].answer!r}"
                )
            for worker in workers.values():  # warm-up, not counted
                worker.time(args.calls)
            runs: dict[str, list[float]] = {name: [] for name in workers}
            for _ in range(args.rounds):
                for name, worker in workers.items():
                    runs[name].append(worker.time(args.calls))
        finally:
            for worker in workers.values():
                worker.close()
    command = " ".join(["python -m bench.serving_path", *sys.argv[1:]])
    print(f"# {command}")
    method = f"BatchGetClientConfig of {args.batch}" if args.batch else "GetClientConfig"
    print(
        f"# ProfileMatcherServicer.{method}, this checkout ({ROOT}) beside {other}, "
        f"{args.rounds} interleaved rounds of {args.calls} calls, {args.players:,} players"
    )
    print("| checkout | µs/call median | min | max |")
    print("| --- | ---: | ---: | ---: |")
    for name, figures in runs.items():
        print(
            f"| {name} | {statistics.median(figures):.1f} | {min(figures):.1f} | "
            f"{max(figures):.1f} |"
        )
    ratios = [mine / theirs for mine, theirs in zip(runs["this"], runs["other"], strict=True)]
    print(
        f"this / other time per call: median {statistics.median(ratios):.0%} "
        f"(rounds {min(ratios):.0%} to {max(ratios):.0%})"
    )


if __name__ == "__main__":
    main()
