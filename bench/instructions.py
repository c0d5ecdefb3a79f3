"""Instructions per GetClientConfig in the server, counted by callgrind: a figure that
does not move with the machine's load, for comparing two checkouts' servers.

    apt-get install valgrind
    uv run python -m bench.instructions                 # this checkout's echo and matcher
    uv run python -m bench.instructions /tmp/before     # ... beside another checkout's

Requests per second on a shared machine move with everything else running on it;
instructions executed do not (callgrind counts them on a simulated CPU, and
a run repeats its count closely whatever the other cores do). Each server runs
under `valgrind --tool=callgrind` (bench/serve.py, few players: valgrind runs it tens
of times slower); this process sends it N1 calls and then N2, eight in flight, and
zeroes and dumps the counters around each batch (callgrind_control), so
(I(N2) - I(N1)) / (N2 - N1) is the cost of one call, start-up and idle time taken
out. Two such pairs per server show how closely the count repeats (threads that wake
on timers add to it). With another checkout, both serve the demo catalog that the
other one writes, as in bench.against; the other checkout's echo answers its own
prebuilt response, this one's what its matcher answers (bench/e2e.py's
fetch_response).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc

from bench.e2e import ROOT, fetch_response, other_catalog, server
from bench.serve import SAMPLE_PLAYER
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.matcher.settings import EMBEDDED_MATCH_WORKERS as MATCH_WORKERS

PLAYERS = 1_000
IN_FLIGHT = 8


def send_calls(port: int, calls: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        request = pb.GetClientConfigRequest(player_id=SAMPLE_PLAYER)
        in_flight: list[grpc.Future[pb.GetClientConfigResponse]] = []
        for _ in range(calls):
            in_flight.append(stub.GetClientConfig.future(request, timeout=600))
            if len(in_flight) >= IN_FLIGHT:
                in_flight.pop(0).result()
        for call in in_flight:
            call.result()


def instructions_for(pid: int, port: int, calls: int, out_dir: Path) -> int:
    """Instructions the server executed while answering `calls` calls."""
    subprocess.run(["callgrind_control", "--zero", str(pid)], check=True, capture_output=True)
    send_calls(port, calls)
    before = set(out_dir.iterdir())
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)
    (dump,) = set(out_dir.iterdir()) - before
    match = re.search(r"^totals: (\d+)", dump.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no totals in {dump}")
    return int(match.group(1))


def per_call(pid: int, port: int, out_dir: Path, small: int, large: int) -> list[float]:
    """Two readings of the instructions of one call."""
    readings = []
    for _ in range(2):
        low = instructions_for(pid, port, small, out_dir)
        high = instructions_for(pid, port, large, out_dir)
        readings.append((high - low) / (large - small))
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, nargs="?", help="another checkout, with its .venv")
    parser.add_argument("--calls", type=int, nargs=2, default=(300, 1300), metavar=("N1", "N2"))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: apt-get install valgrind")
    checkouts = [ROOT] if args.other is None else [args.other.resolve(), ROOT]
    rows: list[tuple[str, list[float]]] = []
    port = 50300
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "dumps"
        catalog = () if args.other is None else ("--catalog", str(other_catalog(checkouts[0], tmp)))
        for mode in ("echo", "matcher"):
            for checkout in checkouts:
                port += 1
                extra: tuple[str, ...] = catalog if checkout == ROOT else ()
                if mode == "echo" and checkout == ROOT:
                    with server("matcher", port + 100, PLAYERS, 16, MATCH_WORKERS, *catalog):
                        extra = ("--response", str(fetch_response(port + 100, Path(tmp))))
                out_dir.mkdir()
                callgrind = (
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={out_dir}/callgrind.%p",
                    f"--log-file={tmp}/valgrind.%p.log",
                )
                threads = (16, MATCH_WORKERS)
                with server(
                    mode, port, PLAYERS, *threads, *extra, checkout=checkout, under=callgrind
                ) as pid:
                    rows.append((f"{checkout} {mode}", per_call(pid, port, out_dir, *args.calls)))
                shutil.rmtree(out_dir)
    print(f"# Instructions per GetClientConfig in the server (callgrind, {PLAYERS:,} players)")
    print("| server | instructions per call, two readings |")
    print("| --- | --- |")
    for name, readings in rows:
        print(f"| {name} | {', '.join(f'{r:,.0f}' for r in readings)} |")


if __name__ == "__main__":
    main()
