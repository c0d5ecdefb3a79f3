"""Waiting for a stop signal (wait_for_signal, stop_signals): the handlers are in place
before `ready`, and a signal is acted on whichever thread of the process it lands on.

Each thread test sends its signals with `pthread_kill` to a thread other than the
main one: what the kernel may do with any SIGTERM sent to a process with grpc's
threads in it. A rescuer stands by to wake the main thread with a harmless signal of its own, so a
main thread that slept through the stop signal fails the test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.transport.grpc_server import wait_for_signal
from services.transport.stop_signals import StopSignals

RESCUE_AFTER = 10.0


class _RecordingServer:
    """Stands in for a server: records what shutting down did to it."""

    def __init__(self, drain_seconds: float) -> None:
        self.drain_seconds = drain_seconds
        self.calls: list[str] = []
        self.draining = threading.Event()

    def start_draining(self) -> None:
        self.calls.append("drain")
        self.draining.set()

    def stop(self, grace: float | None = None) -> None:
        self.calls.append("stop")


@contextlib.contextmanager
def rescuer() -> Iterator[threading.Event]:
    """Set if the main thread had to be woken by SIGUSR1, sent every RESCUE_AFTER s."""
    rescued, done = threading.Event(), threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def rescue() -> None:
        while not done.wait(RESCUE_AFTER):
            rescued.set()
            signal.pthread_kill(main, signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, lambda *_: None)
    thread = threading.Thread(target=rescue)
    thread.start()
    try:
        yield rescued
    finally:
        done.set()
        thread.join()
        signal.signal(signal.SIGUSR1, previous)


def until_the_main_thread_sleeps() -> None:
    """Until the main thread is found asleep several looks in a row, the GIL free
    between them: blocked in its wait, not merely waiting a moment for the GIL (then
    it would run the Python handler itself as it took the GIL back)."""
    stat = Path(f"/proc/self/task/{threading.main_thread().native_id}/stat")
    asleep = 0
    while asleep < 5:
        state = stat.read_text().rpartition(")")[2].split()[0]
        asleep = asleep + 1 if state == "S" else 0
        time.sleep(0.01)


def on_another_thread(send: Callable[[Callable[[signal.Signals], None]], None]) -> None:
    """Runs `send` on a new thread; what it is given sends a signal to that thread, once
    the main thread sleeps."""

    def to_this_thread(sig: signal.Signals) -> None:
        until_the_main_thread_sleeps()
        signal.pthread_kill(threading.get_ident(), sig)

    threading.Thread(target=send, args=(to_this_thread,)).start()


def test_a_sigterm_that_lands_on_another_thread_starts_the_shutdown() -> None:
    server = _RecordingServer(drain_seconds=0.0)
    with rescuer() as rescued:
        wait_for_signal(
            [server], ready=lambda: on_another_thread(lambda send: send(signal.SIGTERM))
        )
    assert server.calls == ["drain", "stop"]
    assert not rescued.is_set(), "the main thread slept through SIGTERM"


def test_a_second_signal_that_lands_on_another_thread_ends_the_drain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = _RecordingServer(drain_seconds=3600.0)

    def term_then_int(send: Callable[[signal.Signals], None]) -> None:
        send(signal.SIGTERM)
        assert server.draining.wait(RESCUE_AFTER)
        send(signal.SIGINT)

    with caplog.at_level(logging.INFO), rescuer() as rescued:
        wait_for_signal([server], ready=lambda: on_another_thread(term_then_int))
    assert server.calls == ["drain", "stop"]
    assert not rescued.is_set(), "the main thread slept through the second signal"
    assert "received SIGTERM, shutting down" in caplog.text
    assert "received SIGINT again, ending the drain" in caplog.text


def test_ready_runs_once_a_signal_would_be_handled() -> None:
    # What `ready` announces ("serving") is what supervisors and tests wait for before
    # they send SIGTERM: by then the signal must start a drain, not kill the process
    # with the default handler (which here would end the test run itself).
    server = _RecordingServer(drain_seconds=0.0)

    wait_for_signal([server], ready=lambda: os.kill(os.getpid(), signal.SIGTERM))

    assert server.calls == ["drain", "stop"]


def test_signals_come_in_order_and_none_within_a_quiet_wait() -> None:
    with StopSignals() as signals:
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
        assert signals.next() == signal.SIGINT
        assert signals.within(60) == signal.SIGTERM
        assert signals.within(0.01) is None


def test_the_handlers_and_wakeup_fd_from_before_are_put_back() -> None:
    def mine(_signum: int, _frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    interrupt = signal.getsignal(signal.SIGINT)
    wakeup_fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup_fd)
    try:
        with StopSignals():
            assert signal.getsignal(signal.SIGTERM) is not mine
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is interrupt
        assert signal.set_wakeup_fd(wakeup_fd) == wakeup_fd
    finally:
        signal.signal(signal.SIGTERM, previous)
