"""End-to-end throughput and latency: the matcher beside an echo baseline, and batch.

    apt-get install nghttp2-client        # h2load, the load generator
    uv run python -m bench.e2e            # about two minutes; --quick for a smoke run

Each server runs in its own process (bench/serve.py); h2load (C, one thread) drives
it with gRPC requests over HTTP/2, so the generator is not the bottleneck. Every
run is checked: all requests must succeed and carry a full-size response body
(a gRPC error would come back as an HTTP 200 with no body).
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
from collections.abc import Iterator
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

SERVICE = "/profilematcher.matcher.v1.ProfileMatcherService"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int


def framed(message: Message) -> bytes:
    """A gRPC length-prefixed message: the request body h2load posts."""
    payload = message.SerializeToString()
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


@contextlib.contextmanager
def server(mode: str, port: int, players: int, workers: int) -> Iterator[None]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.serve",
            mode,
            "--port",
            str(port),
            "--players",
            str(players),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
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
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def check_answer(port: int, method: str, request: Message) -> int:
    """Calls once through a real client; returns the framed response size."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        response: Message = getattr(stub, method)(request, timeout=10)
    if isinstance(response, pb.GetClientConfigResponse):
        assert list(response.profile.active_campaigns), "the sample player should match"
    return len(framed(response))


def h2load(
    port: int, method: str, body: bytes, *, seconds: int, connections: int, streams: int
) -> tuple[LoadResult, int]:
    with tempfile.TemporaryDirectory() as tmp:
        body_file, log_file = Path(tmp) / "body", Path(tmp) / "log"
        body_file.write_bytes(body)
        output = subprocess.run(
            [
                "h2load",
                "-t1",
                f"-c{connections}",
                f"-m{streams}",
                f"-D{seconds}",
                "--warm-up-time=2",
                f"--data={body_file}",
                "--header=content-type: application/grpc",
                "--header=te: trailers",
                f"--log-file={log_file}",
                f"http://127.0.0.1:{port}{SERVICE}/{method}",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
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
    result = LoadResult(rps, quantiles[49] / 1000, quantiles[98] / 1000, succeeded)
    return result, data_bytes // succeeded


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in h2load output:\n{text}")
    return match.group(1)


def measure(
    port: int, method: str, request: Message, *, seconds: int, connections: int, streams: int
) -> LoadResult:
    expected_size = check_answer(port, method, request)
    result, size = h2load(
        port, method, framed(request), seconds=seconds, connections=connections, streams=streams
    )
    # Trailers-only error answers carry no body; every answer must be full size.
    if size < expected_size:
        raise RuntimeError(f"{method}: responses average {size} bytes, want {expected_size}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--streams", type=int, default=8, help="concurrent streams per connection")
    parser.add_argument("--workers", type=int, default=16, help="server worker threads (both)")
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load not found: apt-get install nghttp2-client")
    seconds, rounds = (3, 1) if args.quick else (10, 3)
    load = {"seconds": seconds, "connections": args.connections, "streams": args.streams}
    single = pb.GetClientConfigRequest(player_id=SAMPLE_PLAYER)
    batch_ids = [SAMPLE_PLAYER] + [
        str(doc["player_id"]) for doc in generate_players(99)
    ]  # the first 99 generated players exist in the matcher's store
    batch = pb.BatchGetClientConfigRequest(player_ids=batch_ids)

    echo_runs: list[LoadResult] = []
    matcher_runs: list[LoadResult] = []
    batch_runs: list[LoadResult] = []
    with (
        server("matcher", 50061, args.players, args.workers),
        server("echo", 50062, 0, args.workers),
    ):
        for _ in range(rounds):  # interleaved, so drift on a shared machine hits both alike
            echo_runs.append(measure(50062, "GetClientConfig", single, **load))
            matcher_runs.append(measure(50061, "GetClientConfig", single, **load))
            batch_runs.append(measure(50061, "BatchGetClientConfig", batch, **load))

    def best(runs: list[LoadResult]) -> LoadResult:
        return max(runs, key=lambda r: r.requests_per_second)

    echo, matcher, batched = best(echo_runs), best(matcher_runs), best(batch_runs)
    concurrency = args.connections * args.streams
    print(
        f"# End to end ({datetime.now(UTC):%Y-%m-%d}, {platform.platform()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs)"
    )
    print(
        f"h2load -t1 -c{args.connections} -m{args.streams} ({concurrency} in flight), "
        f"{seconds} s per run after 2 s warm-up, best of {rounds} interleaved rounds; "
        f"{args.workers} worker threads in both servers; "
        f"matcher store: embedded, in memory, {args.players:,} players\n"
    )
    print("| server | RPC | req/s | p50 ms | p99 ms |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, rpc, r in (
        ("echo (baseline)", "GetClientConfig", echo),
        ("matcher", "GetClientConfig", matcher),
        ("matcher", "BatchGetClientConfig x100", batched),
    ):
        print(
            f"| {name} | {rpc} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |"
        )
    print(
        f"\nmatcher / echo throughput: {matcher.requests_per_second / echo.requests_per_second:.0%}"
    )
    single_pps = matcher.requests_per_second
    batch_pps = batched.requests_per_second * len(batch_ids)
    print(
        f"players/s: single {single_pps:,.0f}, batch of {len(batch_ids)} {batch_pps:,.0f} "
        f"({batch_pps / single_pps:.1f}x)"
    )


if __name__ == "__main__":
    main()
