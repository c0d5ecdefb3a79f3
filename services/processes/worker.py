"""What a worker process does first, just forked from the supervising parent: let go
of what is the parent's, say in every log line which worker speaks, end with the
parent, and keep its metrics where the parent reads them."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Sequence

from services.observability.multiprocess import enter_worker_mode

# prctl(2): the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def become_worker(index: int, *, parent: int, inherited: Sequence[int]) -> None:
    """`inherited`: descriptors of the parent's (its signal pipe, the reserved port,
    the metrics endpoint, other workers' pipes) that this process must not hold.
    They are closed by number: the worker ends with os._exit, so the parent's
    objects that owned them are never finalized here to close them again."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
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
