"""The parent's side of `--worker-hang-seconds`: which worker has stopped proving that
it serves (liveness.py is the worker's side), and what to do about it.

A worker is watched from the moment it says it serves: before that it may wait for its
first catalog as long as that takes, and is never taken for hung. One whose latest
proof is older than the limit is sent SIGTERM (it may still drain what it can), and
SIGKILL if it has not ended a little later; its death then goes through the restart
path as any other (restarts.py), so the back-off and giving up apply to it too.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_HANG_SECONDS = 30.0
# The longest a hung worker is given to end after SIGTERM before SIGKILL: a hung one
# usually cannot drain, and meanwhile the kernel still sends it connections.
MAX_TERM_GRACE = 5.0
# sun_path holds 108 bytes on Linux, the terminating NUL included.
_MAX_SOCKET_PATH = 100


def parse_hang_seconds(flag: str, seconds: float) -> float:
    """`seconds` as a hang limit (0: off); ValueError naming `flag` otherwise."""
    if not (seconds >= 0 and math.isfinite(seconds)):  # also refuses NaN
        raise ValueError(f"{flag}: must be 0 (off) or more seconds, got {seconds:g}")
    return seconds


class HangAction(Enum):
    TERMINATE = "terminate"
    KILL = "kill"


@dataclass(slots=True)
class Liveness:
    """One worker process's proofs, as the parent sees them; `limit` 0 watches nothing."""

    limit: float
    proved: float | None = None  # its latest proof; None while it starts
    terminated: float | None = None  # when it was sent SIGTERM for hanging
    killed: bool = False

    def prove(self, now: float) -> None:
        self.proved = now

    def silent_for(self, now: float) -> float:
        return 0.0 if self.proved is None else now - self.proved

    def due(self) -> float | None:
        """When to look at it next, or None while there is nothing to wait for."""
        if self.limit <= 0 or self.proved is None or self.killed:
            return None
        if self.terminated is not None:
            if self.proved > self.terminated:
                # It answers again: slow, not hung. It drains and ends by itself
                # (its own grace); killed only if it falls silent again.
                return self.proved + self.limit
            return self.terminated + min(self.limit, MAX_TERM_GRACE)
        return self.proved + self.limit

    def action(self, now: float) -> HangAction | None:
        """What to do to it at `now`, noted as done."""
        due = self.due()
        if due is None or now < due:
            return None
        if self.terminated is None:
            self.terminated = now
            return HangAction.TERMINATE
        self.killed = True
        return HangAction.KILL


def end_if_hung(index: int, pid: int, liveness: Liveness, now: float) -> None:
    """Worker `index` (process `pid`): SIGTERM once silent past its limit, SIGKILL if
    it is still there a little later; logged, naming it and how long it was silent."""
    action = liveness.action(now)
    if action is None:
        return
    if action is HangAction.TERMINATE:
        log.error(
            "worker %d (pid %d) has not answered its health check for %.1f s"
            " (--worker-hang-seconds %g): hung, sending it SIGTERM",
            index,
            pid,
            liveness.silent_for(now),
            liveness.limit,
        )
        signum = signal.SIGTERM
    else:
        log.error(
            "worker %d (pid %d) hung and still running %.1f s after SIGTERM: sending it SIGKILL",
            index,
            pid,
            now - (liveness.terminated or now),
        )
        signum = signal.SIGKILL
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


@contextlib.contextmanager
def probe_directory() -> Iterator[Path]:
    """A directory for the workers' probe sockets that only this user may enter
    (mkdtemp makes it 0700), short enough for a socket path; removed at the end."""
    directory = Path(tempfile.mkdtemp(prefix="pm-probe-"))
    if len(str(directory / "worker-000.sock")) > _MAX_SOCKET_PATH:
        os.rmdir(directory)
        directory = Path(tempfile.mkdtemp(prefix="pm-probe-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def probe_address(directory: Path | None, index: int) -> str | None:
    """Worker `index`'s probe address, the same for each of its processes; None when
    hangs are not watched (no directory)."""
    return None if directory is None else f"unix:{_socket(directory, index)}"


def remove_probe_socket(directory: Path | None, index: int) -> None:
    """Once worker `index`'s process has ended: one killed cannot remove its own."""
    if directory is not None:
        _socket(directory, index).unlink(missing_ok=True)


def _socket(directory: Path, index: int) -> Path:
    return directory / f"worker-{index}.sock"
