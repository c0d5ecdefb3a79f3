"""SIGTERM and SIGINT, waited for on the main thread, whichever thread they land on.

A signal sent to a process goes to any one of its threads that does not block it.
CPython's C-level handler runs on that thread and only notes the signal; the Python
handler runs later, on the main thread, once that thread next runs bytecode. A main
thread blocked in `threading.Event.wait` (or any lock) is woken only by a signal that
lands on it: one that lands on a grpc thread, or a liveness probe's, leaves it asleep,
and the process serves on through SIGTERM, its drain never started, until a later
signal happens to land on the main thread (or Kubernetes' SIGKILL ends it).

So the main thread waits in `select` on the wakeup fd (`signal.set_wakeup_fd`), which
the C-level handler writes each signal's number to from whichever thread it runs on,
and reads the signals from there, as asyncio does. The Python handler does nothing:
it is there so that the signal no longer ends the process by its default action.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

STOP = (signal.SIGTERM, signal.SIGINT)

# What signal.signal returns: a handler, SIG_DFL or SIG_IGN, or None (not set from Python).
_Handler = Callable[[int, FrameType | None], Any] | int | None


def _noted_by_the_wakeup_fd(_signum: int, _frame: FrameType | None) -> None:
    pass


class StopSignals:
    """While entered (on the main thread, as signal handlers must be), SIGTERM and
    SIGINT end nothing by themselves: `next` and `within` return each one, in the
    order they came. On exit the handlers and wakeup fd from before are put back."""

    def __init__(self) -> None:
        self._read = self._write = -1
        self._previous_fd = -1
        self._previous: dict[int, _Handler] = {}
        self._received: list[signal.Signals] = []

    def __enter__(self) -> StopSignals:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        # No warning when it is full: a pipe full of unread signals already holds a stop.
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._previous = {sig: signal.signal(sig, _noted_by_the_wakeup_fd) for sig in STOP}
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read)
        os.close(self._write)

    def next(self) -> signal.Signals:
        """The next SIGTERM or SIGINT, once one comes."""
        while not self._received:
            self._take(None)
        return self._received.pop(0)

    def within(self, seconds: float) -> signal.Signals | None:
        """The next SIGTERM or SIGINT if one comes within `seconds`, else None."""
        deadline = time.monotonic() + seconds
        while not self._received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._take(remaining)
        return self._received.pop(0)

    def _take(self, timeout: float | None) -> None:
        select.select([self._read], [], [], timeout)
        with contextlib.suppress(BlockingIOError):
            numbers = os.read(self._read, 512)
            # Other signals with Python handlers (if any) write here too.
            self._received.extend(signal.Signals(n) for n in numbers if n in STOP)
