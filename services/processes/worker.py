"""The worker process's side, just forked from the supervising parent: let go of what
is the parent's, say in every log line which worker speaks, end with the parent, keep
its metrics where the parent reads them, then run the work and say when it serves."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from services.observability.multiprocess import enter_worker_mode
from services.processes.liveness import LivenessProbe

log = logging.getLogger(__name__)

# prctl(2): the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1
# The signals the parent handles: blocked from just before each fork until the child
# has handlers of its own (become_worker).
HELD_AT_FORK = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGCHLD})


@dataclass(frozen=True, slots=True)
class WorkerStart:
    """What a worker process is told: which it is, the port to bind with SO_REUSEPORT,
    and what to call once it serves; the private address its server must also bind,
    where it proves that it serves (liveness.py), unless hangs are not watched."""

    index: int
    port: int
    ready: Callable[[], None]
    probe_address: str | None = None


# Runs in the worker process; returns its exit code (0 after a signal's drain).
Work = Callable[[WorkerStart], int]


def run_worker(
    work: Work,
    index: int,
    port: int,
    *,
    parent: int,
    inherited: Sequence[int],
    ready_write: int,
    mask: Iterable[int],
    probe_address: str | None = None,
    hang_seconds: float = 0.0,
) -> NoReturn:
    """The forked child, from the fork to its exit: never returns into the parent's
    code. `mask`: the signal mask from before the fork, restored by `become_worker`.
    Once it serves, with a `probe_address`, every answer of its server there is a
    byte on `ready_write` too (liveness.py)."""
    code = 1
    try:
        become_worker(index, parent=parent, inherited=inherited, mask=mask)
        # Never blocks: a parent slow to read loses proofs, not the worker its thread.
        os.set_blocking(ready_write, False)
        probes: list[LivenessProbe] = []

        def say_serving() -> None:
            with contextlib.suppress(OSError):
                os.write(ready_write, b"r")

        def ready() -> None:
            say_serving()
            if probe_address is not None and not probes:
                probes.append(LivenessProbe(probe_address, hang_seconds, say_serving))
                probes[0].start()

        code = work(WorkerStart(index, port, ready, probe_address))
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", index)
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def become_worker(
    index: int, *, parent: int, inherited: Sequence[int], mask: Iterable[int]
) -> None:
    """`inherited`: descriptors of the parent's (its signal pipe, the reserved port,
    the metrics endpoint, other workers' pipes) that this process must not hold.
    They are closed by number: the worker ends with os._exit, so the parent's
    objects that owned them are never finalized here to close them again.

    The parent forks with HELD_AT_FORK blocked: a SIGTERM passed on since the fork
    waits, pending, instead of reaching the parent's handler copied into this process
    (which would only note it in the copy, and the worker would serve on while the
    parent waits for it). Unblocked only once the handlers are the worker's own: the
    default until it serves (a worker that does not serve yet has nothing to drain,
    and ends at once), then wait_for_signal's drain."""
    signal.set_wakeup_fd(-1)
    for signum in HELD_AT_FORK:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    # A process group of its own: Ctrl-C in a terminal signals the parent alone, which
    # passes it on once, instead of every worker seeing it twice (and cutting its
    # drain short, as a second signal does).
    os.setpgid(0, 0)
    _end_with_parent(parent)
    _label_logs(f"[worker {index} pid {os.getpid()}] ")
    enter_worker_mode(index)


def _end_with_parent(parent: int) -> None:
    """SIGTERM (a drain, then a graceful stop) when the parent dies, even by SIGKILL,
    so that no worker outlives its supervisor and holds the port. Linux only."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)


class _Prefixed(logging.Formatter):
    def __init__(self, inner: logging.Formatter, prefix: str) -> None:
        super().__init__()
        self._inner = inner
        self._prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        return self._prefix + self._inner.format(record)


def _label_logs(prefix: str) -> None:
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_Prefixed(handler.formatter or logging.Formatter(), prefix))
