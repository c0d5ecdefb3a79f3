"""Runs a server as N worker processes on one port, and keeps N of them running.

grpc's own pattern (examples/python/multiprocessing in grpc/grpc): gRPC's core does
not survive a fork once it has started, so this parent creates no gRPC object at all.
It forks the workers first; each builds its own server (its own store connections,
catalog cache and WatchCampaigns stream) and binds it with SO_REUSEPORT to the same
port, and the kernel spreads incoming connections over them. Each worker keeps its
own grpc.health.v1: a probe reaches one worker, as any connection does.

The parent supervises from one thread, on a loop over a pipe that signals wake
(signal.set_wakeup_fd), one pipe per worker that says when it serves, and the
metrics endpoint (served inline, so the parent never holds a thread across a fork):
- a worker that dies is started again, after a delay that doubles while it keeps
  dying soon after its start (restarts.RestartPolicy), so a crash loop does not
  spin; after a few such deaths in a row the parent gives up: it stops the others
  and exits non-zero, for Kubernetes or systemd to restart the whole server;
- a worker of a slot that has never served, dying before it serves, fails the whole
  start: the others are stopped and the parent exits with its code (2 for a bad
  configuration or store, 1 for a port it cannot bind);
- a worker that serves but stops proving it (--worker-hang-seconds, hangs.py and
  liveness.py) is sent SIGTERM, then SIGKILL, and its death is restarted as any other;
- SIGTERM or SIGINT is passed on to every worker (each drains, then stops; a second
  signal, passed on too, cuts their drain short), and the parent waits for them all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from services.observability.http import MetricsSettings
from services.observability.inline_http import InlineMetricsEndpoint
from services.observability.multiprocess import (
    WorkerRecord,
    metrics_directory,
    parent_registry,
    worker_died,
)
from services.processes import hangs
from services.processes.ports import shared_port
from services.processes.restarts import FailStart, GiveUp, RestartPolicy, SlotHistory
from services.processes.worker import HELD_AT_FORK, Work, run_worker

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(slots=True)
class _Worker:
    pid: int
    ready_fd: int | None
    started: float
    liveness: hangs.Liveness
    ready: bool = False


@dataclass(slots=True)
class _Slot:
    index: int
    history: SlotHistory
    pid: int | None = None  # its latest process, alive or not
    worker: _Worker | None = None
    restarts: int = 0
    due: float | None = None  # when to start it again


def supervise(
    name: str,
    processes: int,
    *,
    host: str,
    port: int,
    metrics: MetricsSettings,
    work: Work,
    policy: RestartPolicy | None = None,
    hang_seconds: float = 0.0,
) -> int:
    """Runs `processes` workers until a signal; the exit code for the command.
    `hang_seconds`: the longest a serving worker may go without proving it (0: off)."""
    policy = policy or RestartPolicy()
    return Supervisor(name, processes, work, policy, hang_seconds=hang_seconds).run(
        host, port, metrics
    )


class Supervisor:
    def __init__(
        self,
        name: str,
        processes: int,
        work: Work,
        policy: RestartPolicy,
        *,
        hang_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._hang_seconds = hang_seconds
        self._probes: Path | None = None
        self._work = work
        self._clock = clock
        self._slots = [_Slot(index, SlotHistory(policy)) for index in range(processes)]
        self._parent = os.getpid()
        self._port = 0
        self._directory: Path | None = None
        self._inherited: list[int] = []
        self._selector = selectors.DefaultSelector()
        self._signals: list[int] = []
        self._forwarded: set[int] = set()
        self._stopping = False
        self._serving = False
        self._failure: int | None = None
        self._unclean = False

    def run(self, host: str, port: int, metrics: MetricsSettings) -> int:
        try:
            with contextlib.ExitStack() as stack:
                self._port, reserved = stack.enter_context(shared_port(host, port))
                self._inherited.extend(reserved)
                if self._hang_seconds > 0:
                    self._probes = stack.enter_context(hangs.probe_directory())
                if metrics.enabled:
                    self._directory = stack.enter_context(metrics_directory())
                    endpoint = InlineMetricsEndpoint(
                        metrics, parent_registry(self._directory, self.records)
                    )
                    stack.callback(endpoint.close)
                    self._inherited.append(endpoint.fileno())
                    self._selector.register(endpoint.fileno(), selectors.EVENT_READ, endpoint)
                return self._supervise()
        except OSError as exc:
            print(f"profile-matcher {self._name}: {exc}", file=sys.stderr)
            return 1
        finally:
            self._selector.close()

    def records(self) -> list[WorkerRecord]:
        return [
            WorkerRecord(slot.index, slot.pid, slot.worker is not None, slot.restarts)
            for slot in self._slots
        ]

    def _supervise(self) -> int:
        with self._signal_pipe():
            log.info(
                "%s: starting %d worker processes on port %d",
                self._name,
                len(self._slots),
                self._port,
            )
            try:
                for slot in self._slots:
                    self._start(slot)
                while not (self._stopping and not self._alive()):
                    self._wait()
                    self._take_signals()
                    self._reap()
                    self._start_due()
                    self._end_hung()
            finally:
                self._end_the_rest()
        if self._failure is not None:
            return self._failure
        log.info("%s: every worker has stopped", self._name)
        return 1 if self._unclean else 0

    @contextlib.contextmanager
    def _signal_pipe(self) -> Iterator[None]:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self._inherited.extend((wake_read, wake_write, self._selector.fileno()))
        self._selector.register(wake_read, selectors.EVENT_READ, None)
        previous_fd = signal.set_wakeup_fd(wake_write)
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (*_STOP_SIGNALS, signal.SIGCHLD)
        }
        try:
            yield
        finally:
            signal.set_wakeup_fd(previous_fd)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._selector.unregister(wake_read)
            os.close(wake_read)
            os.close(wake_write)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only noted here; the loop, woken by the pipe, acts on it.
        if signum != signal.SIGCHLD:
            self._signals.append(signum)

    def _wait(self) -> None:
        due = [slot.due for slot in self._slots if slot.due is not None]
        if not self._stopping:  # hangs are not watched then (_end_hung)
            watched = (s.worker.liveness.due() for s in self._slots if s.worker is not None)
            due.extend(hang for hang in watched if hang is not None)
        timeout = None if not due else max(0.0, min(due) - self._clock())
        for key, _ in self._selector.select(timeout):
            if key.data is None:  # the signal pipe: its bytes only woke us
                with contextlib.suppress(BlockingIOError):
                    while os.read(key.fd, 512):
                        pass
            elif isinstance(key.data, _Slot):
                self._heard_from(key.data)
            else:
                key.data.handle()

    def _heard_from(self, slot: _Slot) -> None:
        worker = slot.worker
        if worker is None or worker.ready_fd is None:
            return
        try:
            said = os.read(worker.ready_fd, 64)
        except BlockingIOError:
            return
        if not said:  # it closed the pipe: it is ending, and _reap will hear of it
            self._close_pipe(worker)
            return
        # Its first byte says it serves; each later one, that it still does.
        worker.liveness.prove(self._clock())
        if worker.ready:
            return
        worker.ready = True
        slot.history.served = True
        if not self._serving and all(s.worker is not None and s.worker.ready for s in self._slots):
            self._serving = True
            log.info(
                "%s: %d worker processes serving on port %d",
                self._name,
                len(self._slots),
                self._port,
            )

    def _take_signals(self) -> None:
        while self._signals:
            signum = self._signals.pop(0)
            signame = signal.Signals(signum).name
            again = self._stopping
            self._stop(signum)
            # Only once passed on: whoever reads it knows every worker has it.
            if again:
                log.info("received %s again, passed it on to the workers", signame)
            else:
                log.info("received %s, stopping the workers", signame)

    def _stop(self, signum: int) -> None:
        self._stopping = True
        self._forwarded.add(signum)
        for slot in self._slots:
            slot.due = None
            if slot.worker is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.worker.pid, signum)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self._slots if s.worker and s.worker.pid == pid), None)
            if slot is not None:
                self._ended(slot, os.waitstatus_to_exitcode(status))

    def _ended(self, slot: _Slot, code: int) -> None:
        worker = slot.worker
        assert worker is not None
        slot.worker = None
        self._close_pipe(worker)
        if self._directory is not None:
            worker_died(self._directory, worker.pid, slot.index)
        hangs.remove_probe_socket(self._probes, slot.index)
        how = _how_it_ended(code)
        if self._stopping:
            log.info("worker %d (pid %d) %s", slot.index, worker.pid, how)
            if code != 0 and -code not in self._forwarded:
                self._unclean = True
            return
        verdict = slot.history.died(self._clock() - worker.started)
        if isinstance(verdict, FailStart):
            log.error(
                "worker %d (pid %d) %s before it served: stopping the others",
                slot.index,
                worker.pid,
                how,
            )
        elif isinstance(verdict, GiveUp):
            log.error(
                "worker %d (pid %d) %s, its %d. death in a row soon after its start:"
                " giving up, stopping every worker and exiting, for the service manager"
                " to start the whole server again",
                slot.index,
                worker.pid,
                how,
                verdict.quick_deaths,
            )
        else:
            slot.due = self._clock() + verdict.delay
            log.warning(
                "worker %d (pid %d) %s; starting it again in %.1f s",
                slot.index,
                worker.pid,
                how,
                verdict.delay,
            )
            return
        self._failure = code if code > 0 else 1
        self._stop(signal.SIGTERM)

    def _start_due(self) -> None:
        now = self._clock()
        for slot in self._slots:
            if slot.due is not None and slot.due <= now and not self._stopping:
                slot.due = None
                slot.restarts += 1
                self._start(slot)

    def _start(self, slot: _Slot) -> None:
        ready_read, ready_write = os.pipe()
        others = [
            s.worker.ready_fd for s in self._slots if s.worker and s.worker.ready_fd is not None
        ]
        inherited = [*self._inherited, *others, ready_read]
        for stream in (sys.stdout, sys.stderr):  # or the child would write it out again
            stream.flush()
        # Until the child has handlers of its own (worker.become_worker).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_AT_FORK)
        try:
            pid = os.fork()
            if pid == 0:
                run_worker(
                    self._work,
                    slot.index,
                    self._port,
                    parent=self._parent,
                    inherited=inherited,
                    ready_write=ready_write,
                    mask=mask,
                    probe_address=hangs.probe_address(self._probes, slot.index),
                    hang_seconds=self._hang_seconds,
                )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(ready_write)
        os.set_blocking(ready_read, False)
        slot.worker = _Worker(pid, ready_read, self._clock(), hangs.Liveness(self._hang_seconds))
        slot.pid = pid
        self._selector.register(ready_read, selectors.EVENT_READ, slot)
        log.info("worker %d started (pid %d)", slot.index, pid)

    def _end_hung(self) -> None:
        """Not while stopping: a draining worker may stop answering, and is told to end."""
        if self._stopping:
            return
        now = self._clock()
        for slot in self._slots:
            if slot.worker is not None:
                hangs.end_if_hung(slot.index, slot.worker.pid, slot.worker.liveness, now)

    def _close_pipe(self, worker: _Worker) -> None:
        if worker.ready_fd is not None:
            self._selector.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = None

    def _alive(self) -> bool:
        return any(slot.worker is not None for slot in self._slots)

    def _end_the_rest(self) -> None:
        """Only after an error in this loop: no worker may outlive the parent's watch."""
        for slot in self._slots:
            worker = slot.worker
            if worker is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(worker.pid, 0)
            self._close_pipe(worker)
            slot.worker = None


def _how_it_ended(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
