"""Client streams that cannot hold a server's threads forever.

A client-streaming handler runs on one of the server's worker threads for as long as
the client keeps its stream open, and gRPC's request iterator waits in `next()` with
no timeout. A few clients that open streams and send nothing would hold every worker,
and every other call would queue behind them. Two bounds prevent that: `StreamSlots`
caps how many such streams run at once (the rest are refused at once), and
`IdleLimitedStream` ends a stream that sends nothing for too long, whatever the
client does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Generic, TypeVar

import grpc

from services.domain.errors import Overloaded

T = TypeVar("T")

# Messages read ahead of the handler: enough to keep it busy while the next arrive,
# few enough that a fast client waits for the handler instead of filling memory.
_READ_AHEAD = 64


class StreamSlots:
    """At most `limit` streams of one kind at a time; the next is refused."""

    def __init__(self, limit: int, *, what: str) -> None:
        if limit < 1:
            raise ValueError(f"{what}: the limit must be at least 1, got {limit}")
        self._free = threading.BoundedSemaphore(limit)
        self._limit = limit
        self._what = what

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Holds a slot for the `with` block, released however it ends.

        Raises Overloaded when every slot is taken, without waiting.
        """
        if not self._free.acquire(blocking=False):
            raise Overloaded(
                f"the most {self._what} allowed at once ({self._limit}) are in progress;"
                " retry when one has ended"
            )
        try:
            yield
        finally:
            self._free.release()


class _End:
    """Put by the reader after the last message: `cancelled` when the call broke off,
    `error` when reading failed for any other reason (a bug, raised to the handler)."""

    def __init__(self, *, cancelled: bool = False, error: Exception | None = None) -> None:
        self.cancelled = cancelled
        self.error = error


class IdleLimitedStream(Generic[T]):
    """Iterates a request stream, ending early once it sends nothing for `idle_timeout`.

    The stream is read on a thread of its own that hands each message over through a
    small queue, so the handler's wait for the next one can time out. Iteration ends
    at the end of the stream, when the call breaks off (the client cancelled, or its
    deadline passed: `cancelled`), or after `idle_timeout` seconds without a message
    (`idle`). Use it as a context manager: on exit the reader is told to stop, and it
    does once the call has ended, which happens when the handler returns or aborts.
    """

    def __init__(self, requests: Iterator[T], idle_timeout: float, *, name: str) -> None:
        if idle_timeout <= 0:
            raise ValueError(f"the idle timeout must be positive, got {idle_timeout}")
        self._requests = requests
        self._idle_timeout = idle_timeout
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=_READ_AHEAD)
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name=name, daemon=True)
        self.idle = False
        self.cancelled = False

    def __enter__(self) -> IdleLimitedStream[T]:
        self._reader.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closed.set()
        # A reader waiting for room in the queue gets it, then sees the stream closed.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                item = self._queue.get(timeout=self._idle_timeout)
            except queue.Empty:
                self.idle = True
                return
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                self.cancelled = item.cancelled
                return
            yield item

    def _read(self) -> None:
        try:
            for request in self._requests:
                if not self._hand_over(request):
                    return
        except grpc.RpcError:  # gRPC's word for "the call has ended"
            self._hand_over(_End(cancelled=True))
            return
        except Exception as exc:
            self._hand_over(_End(error=exc))
            return
        self._hand_over(_End())

    def _hand_over(self, item: T | _End) -> bool:
        if self._closed.is_set():
            return False
        self._queue.put(item)
        return True
