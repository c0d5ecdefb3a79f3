"""The proof a worker gives (liveness.py) fails when its server is stuck, aio loop or
thread pool alike; when the parent acts on its absence (hangs.py); the flag."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2_grpc

from services.campaigns.settings import CampaignSettings
from services.campaigns.settings import add_flags as add_campaign_flags
from services.matcher.settings import MatcherSettings
from services.matcher.settings import add_flags as add_matcher_flags
from services.processes.hangs import (
    DEFAULT_HANG_SECONDS,
    HangAction,
    Liveness,
    parse_hang_seconds,
    probe_address,
    probe_directory,
)
from services.processes.liveness import LivenessProbe, answered
from services.transport.aio_calls import CallWrapper
from services.transport.aio_server import AioRunningServer, Registrar
from services.transport.grpc_server import ServerOptions, create_server, start_server
from tests.matcher.fakes import eventually

STUCK = "/test.Stuck/Block"


@pytest.fixture
def address() -> Iterator[str]:
    with probe_directory() as directory:
        found = probe_address(directory, 0)
        assert found is not None
        yield found


def block_handler(release: threading.Event, is_async: bool) -> grpc.RpcMethodHandler[Any, Any]:
    if is_async:

        async def block_the_loop(request: bytes, context: Any) -> bytes:
            release.wait()  # a runaway sync call on the loop
            return b""

        return grpc.unary_unary_rpc_method_handler(block_the_loop)

    def block_a_thread(request: bytes, context: Any) -> bytes:
        release.wait()
        return b""

    return grpc.unary_unary_rpc_method_handler(block_a_thread)


def checks(address: str, timeout: float = 0.5) -> bool:
    with grpc.insecure_channel(address) as channel:
        return answered(health_pb2_grpc.HealthStub(channel), timeout)


def no_answer(address: str) -> None:
    assert not checks(address), "the server still answers"


def an_answer(address: str) -> None:
    # Generous: a server that answers must not fail this on a loaded machine.
    assert checks(address, timeout=10), "the server does not answer"


def answers_unless_stuck(address: str, release: threading.Event) -> None:
    """Shows the server answers a Check; calls STUCK in the background and shows it
    answers none; sets `release` and shows it answers again."""
    an_answer(address)
    channel = grpc.insecure_channel(address)
    block: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(STUCK)
    call = block.future(b"", timeout=30)
    try:
        eventually(lambda: no_answer(address))
    finally:
        release.set()
        call.exception()
        channel.close()
    eventually(lambda: an_answer(address))


def test_a_stuck_aio_loop_answers_no_check(address: str) -> None:
    release = threading.Event()
    options = ServerOptions(host="127.0.0.1", port=0, probe_address=address)
    wrapper = CallWrapper(lambda _: None, max_concurrent=16, max_message_bytes=1 << 20)

    def register(registrar: Registrar) -> None:
        handler = block_handler(release, is_async=True)
        registrar.add_registered_method_handlers("test.Stuck", {"Block": handler})

    running = AioRunningServer(options, [], [])
    running.start(options, wrapper, register, None)
    try:
        answers_unless_stuck(address, release)
    finally:
        running.stop(0)


def test_a_thread_pool_with_every_thread_stuck_answers_no_check(address: str) -> None:
    release = threading.Event()
    options = ServerOptions(host="127.0.0.1", port=0, max_workers=1, probe_address=address)
    server = create_server(options)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Stuck", {"Block": block_handler(release, False)}
            ),
        )
    )
    running = start_server(server, options, [])
    try:
        answers_unless_stuck(address, release)
    finally:
        running.stop(0)


def test_nothing_listening_is_no_answer(address: str) -> None:
    assert not checks(address)


def test_the_probe_proves_while_the_server_answers(address: str) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    options = ServerOptions(host="127.0.0.1", port=0, probe_address=address)
    running = start_server(server, options, [])
    proofs = threading.Semaphore(0)
    probe = LivenessProbe(address, 0.5, proofs.release)
    probe.start()
    try:
        for _ in range(3):
            assert proofs.acquire(timeout=10)
    finally:
        probe.stop()
        running.stop(0)


def test_a_starting_worker_is_never_due_and_a_silent_one_is_terminated_then_killed() -> None:
    liveness = Liveness(limit=10.0)
    assert liveness.due() is None
    assert liveness.action(1e9) is None  # still starting, however long
    liveness.prove(100.0)
    assert liveness.action(109.0) is None
    liveness.prove(105.0)
    assert liveness.due() == 115.0
    assert liveness.action(115.0) is HangAction.TERMINATE
    assert liveness.silent_for(115.0) == 10.0
    assert liveness.action(116.0) is None
    assert liveness.action(125.0) is HangAction.KILL
    assert liveness.due() is None
    assert liveness.action(1e9) is None


def test_a_worker_that_answers_after_sigterm_drains_unless_it_falls_silent_again() -> None:
    liveness = Liveness(limit=10.0)
    liveness.prove(100.0)
    assert liveness.action(110.0) is HangAction.TERMINATE
    liveness.prove(111.0)  # slow, not hung: it answers while it drains
    assert liveness.action(116.0) is None  # past the SIGKILL grace, but it answered
    liveness.prove(118.0)
    assert liveness.due() == 128.0
    assert liveness.action(127.0) is None
    assert liveness.action(128.0) is HangAction.KILL  # silent for a whole limit again


def test_a_limit_of_0_watches_nothing() -> None:
    liveness = Liveness(limit=0.0)
    liveness.prove(0.0)
    assert liveness.due() is None
    assert liveness.action(1e9) is None
    assert probe_address(None, 0) is None  # no directory when off: nothing bound


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_bad_limit_is_refused_naming_the_flag(bad: float) -> None:
    with pytest.raises(ValueError, match="--worker-hang-seconds: must be 0 \\(off\\) or more"):
        parse_hang_seconds("--worker-hang-seconds", bad)


def matcher_settings(*argv: str) -> MatcherSettings:
    parser = argparse.ArgumentParser()
    add_matcher_flags(parser)
    return MatcherSettings.from_args(parser.parse_args(list(argv)))


def campaign_settings(*argv: str) -> CampaignSettings:
    parser = argparse.ArgumentParser()
    add_campaign_flags(parser)
    return CampaignSettings.from_args(parser.parse_args(["--catalog", "c.json", *argv]))


def test_the_flag_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert matcher_settings().worker_hang_seconds == DEFAULT_HANG_SECONDS
    assert matcher_settings("--worker-hang-seconds", "0").worker_hang_seconds == 0
    assert campaign_settings().worker_hang_seconds == DEFAULT_HANG_SECONDS
    assert campaign_settings("--worker-hang-seconds", "7.5").worker_hang_seconds == 7.5
    monkeypatch.setenv("PROFILE_MATCHER_WORKER_HANG_SECONDS", "12")
    monkeypatch.setenv("PROFILE_MATCHER_CAMPAIGNS_WORKER_HANG_SECONDS", "0")
    assert matcher_settings().worker_hang_seconds == 12
    assert campaign_settings().worker_hang_seconds == 0
    with pytest.raises(ValueError, match="--worker-hang-seconds"):
        matcher_settings("--worker-hang-seconds", "-3")


def test_the_probe_directory_is_private_and_removed() -> None:
    with probe_directory() as directory:
        assert directory.stat().st_mode & 0o777 == 0o700
        kept = Path(directory)
    assert not kept.exists()
