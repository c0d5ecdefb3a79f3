"""End-to-end throughput and latency: the matcher beside echoes and a floor, and batch.

    apt-get install nghttp2-client        # h2load, the load generator
    uv run python -m bench.e2e            # about ten minutes; --quick for a smoke run
    uv run python -m bench.e2e --study layers   # what each layer of our servers costs

The servers: bare grpcio echoes, sync and aio, with nothing of ours (bench/bare.py);
our echo on each of our servers (--io threads and aio); the matcher on each; the
floor (bench/serve.py). Each server's ratio to the faster bare echo is printed by
round: the rounds interleave every server, so a ratio within one round is fair on a
shared machine.

Each server runs in its own process (bench/serve.py); h2load (C, one thread) drives
it with gRPC requests over HTTP/2, so the generator is not the bottleneck. Every
run is checked: all requests must succeed and carry a full-size response body
(a gRPC error would come back as an HTTP 200 with no body). On Linux each run also
reports the server process's CPU time and context switches per request, read from
/proc in the middle of the run, and the CPU per request of its busiest thread with
that thread's share of the run's time: a share near 100% names that thread (the aio
event loop, say) as what limits the server, and its µs/req as the budget to cut.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.serve import SAMPLE_PLAYER
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.demo.players import generate_players
from services.matcher.settings import EMBEDDED_MATCH_WORKERS
from services.transport.auth import bearer_metadata

SERVICE = "/profilematcher.matcher.v1.ProfileMatcherService"
ROOT = Path(__file__).resolve().parent.parent


def checkout_python(checkout: Path) -> str:
    """A checkout's own Python: the one running this for this checkout, else the one
    in its .venv (another commit's, for bench.against and the like)."""
    return sys.executable if checkout == ROOT else str(checkout / ".venv" / "bin" / "python")


def other_catalog(other: Path, directory: str) -> Path:
    """The demo catalog as the other checkout writes it, which both can serve (older code
    understands every line of it)."""
    path = Path(directory) / "catalog.json"
    subprocess.run(
        [checkout_python(other), "-m", "services.cli", "demo-catalog", str(path)],
        cwd=other,
        check=True,
        stdout=subprocess.DEVNULL,  # "wrote PATH"; a failure's reason is on stderr
    )
    return path


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    # The server process's cost per request, in the middle of the run (Linux only).
    cpu_us: float | None = None
    switches: float | None = None
    # The busiest thread's CPU per request, and its CPU over the run's time.
    busiest_us: float | None = None
    busiest_share: float | None = None


@dataclass(frozen=True)
class ProcessCounters:
    """CPU time and context switches of a whole process (all its threads) so far,
    and each thread's CPU time."""

    at: float
    cpu_seconds: float
    switches: int
    thread_seconds: dict[str, float]

    @classmethod
    def read(cls, pid: int) -> ProcessCounters | None:
        proc = Path(f"/proc/{pid}")
        if not proc.exists():
            return None
        # Fields 14 and 15 of stat, after the parenthesised command name: utime, stime.
        utime, stime = proc.joinpath("stat").read_text().rpartition(")")[2].split()[11:13]
        ticks = os.sysconf("SC_CLK_TCK")
        switches = 0
        thread_seconds: dict[str, float] = {}
        for task in proc.joinpath("task").iterdir():
            with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                for line in task.joinpath("status").read_text().splitlines():
                    if "ctxt_switches:" in line:  # voluntary and nonvoluntary
                        switches += int(line.split()[1])
                user, system = task.joinpath("stat").read_text().rpartition(")")[2].split()[11:13]
                thread_seconds[task.name] = (int(user) + int(system)) / ticks
        return cls(time.monotonic(), (int(utime) + int(stime)) / ticks, switches, thread_seconds)

    def busiest_since(self, before: ProcessCounters) -> float:
        """The CPU seconds of the thread that used the most since `before`."""
        return max(
            (
                spent - before.thread_seconds.get(tid, 0.0)
                for tid, spent in self.thread_seconds.items()
            ),
            default=0.0,
        )


def framed(message: Message) -> bytes:
    """A gRPC length-prefixed message: the request body h2load posts."""
    payload = message.SerializeToString()
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


@contextlib.contextmanager
def server(
    mode: str,
    port: int,
    players: int,
    workers: int,
    match_workers: int,
    *extra: str,
    checkout: Path = ROOT,
    under: Sequence[str] = (),
) -> Iterator[int]:
    """Runs a bench.serve server of `checkout` (this one, or another with its own
    .venv, for bench.against), `under` a tool (valgrind, for bench.instructions);
    yields its pid once it answers health checks."""
    python = checkout_python(checkout)
    process = subprocess.Popen(
        [
            *under,
            python,
            "-m",
            "bench.serve",
            mode,
            "--port",
            str(port),
            "--players",
            str(players),
            "--workers",
            str(workers),
            "--match-workers",
            str(match_workers),
            *extra,
        ],
        cwd=checkout,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "ready" not in line:
            raise RuntimeError(f"{mode} server did not start: {line!r}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            assert status.status == health_pb2.HealthCheckResponse.SERVING
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=600 if under else 30)  # valgrind runs a shutdown slowly
        except subprocess.TimeoutExpired:
            # Never left behind: a server still on its port would answer the next run.
            process.kill()
            process.wait()
            raise


def fetch_response(port: int, directory: Path) -> Path:
    """The server's answer for the sample player, saved for an echo's --response."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        response = stub.GetClientConfig(
            pb.GetClientConfigRequest(player_id=SAMPLE_PLAYER), timeout=10
        )
    path = directory / f"response-{port}.bin"
    path.write_bytes(response.SerializeToString())
    return path


def check_answer(port: int, method: str, request: Message, token: str | None = None) -> int:
    """Calls once through a real client; returns the framed response size."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        response: Message = getattr(stub, method)(
            request, timeout=10, metadata=bearer_metadata(token)
        )
    if isinstance(response, pb.GetClientConfigResponse):
        assert list(response.profile.active_campaigns), "the sample player should match"
    return len(framed(response))


WARM_UP_SECONDS = 2


def h2load(
    port: int,
    method: str,
    body: bytes,
    *,
    seconds: int,
    connections: int,
    streams: int,
    server_pid: int,
    token: str | None = None,
) -> tuple[LoadResult, int]:
    with tempfile.TemporaryDirectory() as tmp:
        body_file, log_file = Path(tmp) / "body", Path(tmp) / "log"
        body_file.write_bytes(body)
        run = subprocess.Popen(
            [
                "h2load",
                "-t1",
                f"-c{connections}",
                f"-m{streams}",
                f"-D{seconds}",
                f"--warm-up-time={WARM_UP_SECONDS}",
                f"--data={body_file}",
                "--header=content-type: application/grpc",
                "--header=te: trailers",
                *(f"--header={key}: {value}" for key, value in bearer_metadata(token)),
                f"--log-file={log_file}",
                f"http://127.0.0.1:{port}{SERVICE}/{method}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        # The server's own counters over the middle of the measured window, clear
        # of the warm-up and of the ramp-down.
        time.sleep(WARM_UP_SECONDS + 0.5)
        before = ProcessCounters.read(server_pid)
        time.sleep(max(seconds - 1.0, 0.5))
        after = ProcessCounters.read(server_pid)
        output, _ = run.communicate()
        if run.returncode != 0:
            raise RuntimeError(f"h2load failed ({run.returncode}):\n{output}")
        latencies = sorted(
            int(line.split("\t")[2]) for line in log_file.read_text().splitlines() if line
        )
    rps = float(_find(r"finished in [\d.]+\w+, ([\d.]+) req/s", output))
    succeeded = int(_find(r"(\d+) succeeded", output))
    failed = int(_find(r"(\d+) failed", output)) + int(_find(r"(\d+) errored", output))
    # Counts warm-up answers too, so it is an upper bound: it still exposes a run
    # whose answers were errors (trailers only, no body).
    data_bytes = int(_find(r"\((\d+)\) data", output))
    if failed or not succeeded:
        raise RuntimeError(f"h2load saw failures:\n{output}")
    quantiles = statistics.quantiles(latencies, n=100)
    cpu_us = switches = busiest_us = busiest_share = None
    if before is not None and after is not None:
        elapsed = after.at - before.at
        served = rps * elapsed
        cpu_us = (after.cpu_seconds - before.cpu_seconds) * 1e6 / served
        switches = (after.switches - before.switches) / served
        busiest = after.busiest_since(before)
        busiest_us, busiest_share = busiest * 1e6 / served, busiest / elapsed
    result = LoadResult(
        rps,
        quantiles[49] / 1000,
        quantiles[98] / 1000,
        succeeded,
        cpu_us,
        switches,
        busiest_us,
        busiest_share,
    )
    return result, data_bytes // succeeded


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in h2load output:\n{text}")
    return match.group(1)


def measure(
    target: tuple[int, int],
    method: str,
    request: Message,
    *,
    seconds: int,
    connections: int,
    streams: int,
    token: str | None = None,
) -> LoadResult:
    """Loads the server at `target` (port, pid) with `request` and checks every answer."""
    port, pid = target
    expected_size = check_answer(port, method, request, token)
    result, size = h2load(
        port,
        method,
        framed(request),
        seconds=seconds,
        connections=connections,
        streams=streams,
        server_pid=pid,
        token=token,
    )
    # Trailers-only error answers carry no body; every answer must be full size.
    if size < expected_size:
        raise RuntimeError(f"{method}: responses average {size} bytes, want {expected_size}")
    return result


@dataclass(frozen=True)
class Spec:
    """One bench.serve server process, measured as one row."""

    row: str
    mode: str
    port: int
    extra: tuple[str, ...] = ()
    players: bool = False  # seeded with --players (else none)
    token: str | None = None


# A token for the rows that measure the auth check; sent by h2load as a header.
BENCH_TOKEN = "bench-token-0123456789abcdef"
BARE = (
    Spec("bare-sync (grpc.server, nothing of ours)", "bare-sync", 50064),
    Spec("bare-aio (grpc.aio.server, nothing of ours)", "bare-aio", 50065),
)
MAIN = (
    *BARE,
    Spec("echo, threads (our plumbing)", "echo", 50062, ("--io", "threads")),
    Spec("echo, aio (our plumbing)", "echo", 50066, ("--io", "aio")),
    Spec("matcher, threads", "matcher", 50061, ("--io", "threads"), players=True),
    Spec("matcher, aio", "matcher", 50067, ("--io", "aio"), players=True),
    Spec("floor, threads (lower bound)", "floor", 50063, ("--io", "threads"), players=True),
    Spec("floor, aio (lower bound)", "floor", 50078, ("--io", "aio"), players=True),
)
BATCHED = ("matcher, threads", "matcher, aio")
_THREADS, _AIO = ("--io", "threads"), ("--io", "aio")
LAYERS = (
    *BARE,
    Spec("bare-sync + 4 no-op interceptors", "bare-sync", 50068, ("--noop-interceptors", "4")),
    Spec("bare-aio + 4 no-op interceptors", "bare-aio", 50069, ("--noop-interceptors", "4")),
    Spec("echo, threads: no layer", "echo", 50070, (*_THREADS, "--layers", "none")),
    Spec("echo, threads: decoding", "echo", 50071, (*_THREADS, "--layers", "decoding")),
    Spec("echo, threads: + limits", "echo", 50072, (*_THREADS, "--layers", "decoding,limits")),
    Spec(
        "echo, threads: + metrics (as served)",
        "echo",
        50073,
        (*_THREADS, "--layers", "decoding,limits,metrics"),
    ),
    Spec(
        "echo, threads: + auth",
        "echo",
        50074,
        (*_THREADS, "--layers", "auth,decoding,limits,metrics", "--auth-token", BENCH_TOKEN),
        token=BENCH_TOKEN,
    ),
    Spec("echo, aio: limits and decoding", "echo", 50075, (*_AIO, "--layers", "decoding,limits")),
    Spec(
        "echo, aio: + metrics (as served)",
        "echo",
        50076,
        (*_AIO, "--layers", "decoding,limits,metrics"),
    ),
    Spec(
        "echo, aio: + auth",
        "echo",
        50077,
        (*_AIO, "--layers", "auth,decoding,limits,metrics", "--auth-token", BENCH_TOKEN),
        token=BENCH_TOKEN,
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument(
        "--study",
        choices=["servers", "layers"],
        default="servers",
        help="servers: bare echoes, our echoes, the matcher on both servers, the floor and"
        " the batch; layers: what each layer of our servers costs per request",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10, help="per run, after the warm-up")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--streams", type=int, default=8, help="concurrent streams per connection")
    parser.add_argument("--workers", type=int, default=16, help="server worker threads (all)")
    parser.add_argument(
        "--match-workers",
        type=int,
        default=EMBEDDED_MATCH_WORKERS,
        help="threads of their own for GetClientConfig and the batch (all; 0: --workers pool)",
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        help="the catalog file the matcher and the floor serve (default: the demo catalog)",
    )
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load not found: apt-get install nghttp2-client")
    seconds, rounds = (3, 1) if args.quick else (args.seconds, args.rounds)
    load = {"seconds": seconds, "connections": args.connections, "streams": args.streams}
    specs = MAIN if args.study == "servers" else LAYERS
    single = pb.GetClientConfigRequest(player_id=SAMPLE_PLAYER)
    batch_ids = [SAMPLE_PLAYER] + [
        str(doc["player_id"]) for doc in generate_players(99)
    ]  # the first 99 generated players exist in the matcher's store
    batch = pb.BatchGetClientConfigRequest(player_ids=batch_ids)
    threads = (args.workers, args.match_workers)
    catalog = ("--catalog", str(args.catalog.resolve())) if args.catalog else ()
    runs: dict[str, list[LoadResult]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        # The matcher's own answer first: every echo answers with it.
        with server("matcher", 50060, 1, *threads, *catalog):
            response = fetch_response(50060, Path(tmp))
        targets: dict[str, tuple[tuple[int, int], Spec]] = {}
        for spec in specs:
            extra = (*catalog,) if spec.players else ("--response", str(response))
            players = args.players if spec.players else 0
            pid = servers.enter_context(
                server(spec.mode, spec.port, players, *threads, *spec.extra, *extra)
            )
            targets[spec.row] = ((spec.port, pid), spec)
        for _ in range(rounds):  # interleaved, so drift on a shared machine hits all alike
            for row, (target, spec) in targets.items():
                result = measure(target, "GetClientConfig", single, token=spec.token, **load)
                runs.setdefault(row, []).append(result)
            if args.study == "servers":
                for row in BATCHED:
                    result = measure(targets[row][0], "BatchGetClientConfig", batch, **load)
                    runs.setdefault(f"{row}, batch", []).append(result)
    _report(args, seconds, rounds, runs, len(batch_ids))


def _report(
    args: argparse.Namespace,
    seconds: int,
    rounds: int,
    runs: dict[str, list[LoadResult]],
    batch_size: int,
) -> None:
    concurrency = args.connections * args.streams
    print(
        f"# End to end, {args.study} ({datetime.now(UTC):%Y-%m-%d}, {platform.platform()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs)"
    )
    print(
        f"h2load -t1 -c{args.connections} -m{args.streams} ({concurrency} in flight), "
        f"{seconds} s per run after {WARM_UP_SECONDS} s warm-up, {rounds} interleaved rounds; "
        f"GetClientConfig unless named; servers with {args.workers} worker threads and "
        f"{args.match_workers or 'no'} of their own for ProfileMatcherService (threads); "
        f"matcher and floor store: in memory, {args.players:,} players\n"
    )
    print(
        "| server | best req/s | median req/s | p50 ms | p99 ms "
        "| median server CPU µs/req | context switches/req "
        "| busiest thread: CPU µs/req (share of time) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row, results in runs.items():
        best = max(results, key=lambda r: r.requests_per_second)
        cpu = [r.cpu_us for r in results if r.cpu_us is not None]
        switches = [r.switches for r in results if r.switches is not None]
        busiest = [r.busiest_us for r in results if r.busiest_us is not None]
        share = [r.busiest_share for r in results if r.busiest_share is not None]
        print(
            f"| {row} | {best.requests_per_second:,.0f} "
            f"| {statistics.median(r.requests_per_second for r in results):,.0f} "
            f"| {best.p50_ms:.2f} | {best.p99_ms:.2f} "
            f"| {_figure(statistics.median(cpu) if cpu else None, '.0f')} "
            f"| {_figure(statistics.median(switches) if switches else None, '.1f')} "
            f"| {_figure(statistics.median(busiest) if busiest else None, '.0f')} "
            f"({_figure(statistics.median(share) if share else None, '.0%')}) |"
        )
    print()
    bare = [runs[spec.row] for spec in BARE]
    # Each round's runs came back to back, so a ratio within a round is the fairest
    # reading on a shared machine.
    faster_bare = [
        max(pair, key=lambda r: r.requests_per_second) for pair in zip(*bare, strict=True)
    ]
    for row, results in runs.items():
        if row.startswith(("matcher", "echo", "floor")) and not row.endswith("batch"):
            ratios = [
                r.requests_per_second / f.requests_per_second
                for r, f in zip(results, faster_bare, strict=True)
            ]
            print(
                f"{row} / faster bare echo, by round: {', '.join(f'{x:.0%}' for x in ratios)}"
                f" (median {statistics.median(ratios):.0%})"
            )
    which = ", ".join(
        "bare-aio" if f is a else "bare-sync"
        for f, a in zip(faster_bare, runs[BARE[1].row], strict=True)
    )
    print(f"the faster bare echo, by round: {which}")
    for row in BATCHED:
        if f"{row}, batch" in runs:
            single = max(r.requests_per_second for r in runs[row])
            batched = max(r.requests_per_second for r in runs[f"{row}, batch"]) * batch_size
            print(
                f"{row}: players/s single {single:,.0f}, batch of {batch_size} {batched:,.0f} "
                f"({batched / single:.1f}x)"
            )


def _figure(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


if __name__ == "__main__":
    main()
