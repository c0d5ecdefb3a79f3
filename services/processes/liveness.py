"""The worker's side of `--worker-hang-seconds`: it proves to the supervising parent,
again and again, that its server still serves.

The proof goes through the server's real serving path: the worker's server also
listens on a private unix socket (ServerOptions.probe_address, in a directory only
this user may enter), and a thread of the worker calls grpc.health.v1 Check there,
as any client would. Only an answer from the server, whatever its status (NOT_SERVING
while a catalog is missing or during the drain is an answer), counts: with --io aio
the Check is handled on the server's event loop, so a loop stuck in a runaway sync
call or a deadlock answers nothing; with --io threads it needs one of the server's
pool threads, so a pool whose every thread is stuck answers nothing. Each answer is
one byte on the pipe the worker already tells the parent it serves by, so a worker
that is stopped, or whose whole interpreter is stuck, proves nothing either.

Why not a timestamp written by a thread, or by a callback on the loop: a thread proves
only that the thread runs, and a loop callback that the loop turns, not that grpc's
server hands calls to it. Why the worker and not the parent calls: the parent makes
no gRPC object, since gRPC does not survive the forks it keeps making (supervisor.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

log = logging.getLogger(__name__)

# Proofs per hang limit: several, so one late answer does not use up the limit, and
# few, so the probe adds next to nothing to the calls the server sees.
PROBES_PER_LIMIT = 10
# The server did not answer: a deadline passed, or nothing listens (UNAVAILABLE).
_NO_ANSWER = frozenset(
    {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
)


def probe_interval(hang_seconds: float) -> float:
    """Seconds from the start of one probe to the start of the next."""
    return hang_seconds / PROBES_PER_LIMIT


def answered(stub: health_pb2_grpc.HealthStub, timeout: float) -> bool:
    """Whether the server answered a Check within `timeout` seconds."""
    try:
        stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        return code is not None and code not in _NO_ANSWER
    return True


class LivenessProbe:
    """Checks the server at `address` every `probe_interval(hang_seconds)` and calls
    `prove` after each answer, from a daemon thread of its own, until `stop`."""

    def __init__(self, address: str, hang_seconds: float, prove: Callable[[], None]) -> None:
        self._address = address
        self._interval = probe_interval(hang_seconds)
        # A Check may take most of the limit (a loaded server that answers late
        # serves), but its answer must reach the parent before the limit passes.
        self._timeout = hang_seconds - self._interval
        self._prove = prove
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveness-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        with grpc.insecure_channel(self._address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while not self._stopped.is_set():
                started = time.monotonic()
                if answered(stub, self._timeout):
                    with contextlib.suppress(OSError):
                        self._prove()
                self._stopped.wait(max(0.0, self._interval - (time.monotonic() - started)))
