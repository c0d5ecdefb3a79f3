"""`profile-matcher campaigns`: flags, environment, exit codes, and the signal path."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.campaigns.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from services.campaigns import main
from services.campaigns.bootstrap import start_campaign_server
from services.campaigns.settings import (
    DEFAULT_PORT,
    ENV_CATALOG,
    ENV_PORT,
    CampaignSettings,
    SettingsError,
)
from tests.campaigns.conftest import parse_args, write_atomically
from tests.ports import free_port


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CATALOG, raising=False)
    monkeypatch.delenv(ENV_PORT, raising=False)


def test_flags_parse() -> None:
    args = parse_args(
        "--catalog", "c.json", "--port", "7", "--host", "::1", "--poll-interval", "0.5"
    )

    assert (args.catalog, args.port, args.host, args.poll_interval) == ("c.json", 7, "::1", 0.5)
    defaults = vars(parse_args())
    assert {k: defaults[k] for k in ("catalog", "port", "host", "poll_interval")} == dict.fromkeys(
        ("catalog", "port", "host", "poll_interval")
    )
    assert (defaults["tls_cert"], defaults["metrics_port"]) == (None, 0)  # TLS, metrics: off


def test_settings_default_port_and_host() -> None:
    settings = CampaignSettings.from_sources(catalog="c.json", env={})

    assert settings.catalog == Path("c.json")
    assert settings.port == DEFAULT_PORT == 50052
    assert settings.host == "[::]"
    assert settings.poll_interval == 0.2


def test_settings_from_environment() -> None:
    settings = CampaignSettings.from_sources(env={ENV_CATALOG: "env.json", ENV_PORT: "6000"})

    assert (settings.catalog, settings.port) == (Path("env.json"), 6000)


def test_flags_override_environment() -> None:
    settings = CampaignSettings.from_sources(
        catalog="flag.json", port=7000, env={ENV_CATALOG: "env.json", ENV_PORT: "6000"}
    )

    assert (settings.catalog, settings.port) == (Path("flag.json"), 7000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": {}}, f"no catalog file: pass --catalog FILE or set {ENV_CATALOG}"),
        (
            {"catalog": "c.json", "env": {ENV_PORT: "http"}},
            f"{ENV_PORT} must be a port number, got 'http'",
        ),
        (
            {"catalog": "c.json", "port": 70000, "env": {}},
            "port must be within 0..65535, got 70000",
        ),
        (
            {"catalog": "c.json", "poll_interval": 0.0, "env": {}},
            "poll interval must be positive, got 0.0",
        ),
    ],
)
def test_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        CampaignSettings.from_sources(**kwargs)  # type: ignore[arg-type]

    assert str(info.value) == message


def test_run_without_a_catalog_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.run(parse_args()) == 2
    assert capsys.readouterr().err == (
        f"profile-matcher campaigns: no catalog file: pass --catalog FILE or set {ENV_CATALOG}\n"
    )


def test_run_with_a_bad_catalog_prints_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "catalog.json"
    write_atomically(path, [{"game": "g", "name": "a"}])

    assert main.run(parse_args("--catalog", str(path), "--port", "0")) == 2

    err = capsys.readouterr().err.splitlines()
    assert err[0] == "profile-matcher campaigns: the catalog cannot be served (5 problems):"
    assert err[1:] == [
        f"  {path}: campaign #1 'a': {field}: is required"
        for field in ("priority", "matchers", "start_date", "end_date", "enabled")
    ]


def test_run_with_a_taken_port_exits_1(
    settings: CampaignSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    running = start_campaign_server(settings)
    try:
        args = parse_args(
            "--catalog", str(settings.catalog), "--host", "127.0.0.1", "--port", str(running.port)
        )
        assert main.run(args) == 1
    finally:
        running.stop(grace=0)
    assert f"cannot bind 127.0.0.1:{running.port}" in capsys.readouterr().err


@pytest.fixture
def sigterm_ignored() -> Iterator[None]:
    """A SIGTERM that arrives before `run` installs its handler must not kill pytest."""

    def ignore(_signum: int, _frame: FrameType | None) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, ignore)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.usefixtures("sigterm_ignored")
def test_run_serves_until_sigterm_then_ends_streams(
    catalog_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    args = parse_args(
        "--catalog", str(catalog_path), "--host", "127.0.0.1", "--port", str(port),
        "--poll-interval", "0.02",
    )  # fmt: skip
    returned = threading.Event()
    observed: dict[str, object] = {}

    def client() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                health = health_pb2_grpc.HealthStub(channel)
                # Health reads NOT_SERVING from the moment the port opens until the
                # server is ready, so wait for the switch.
                statuses = health.Watch(
                    health_pb2.HealthCheckRequest(), timeout=10, wait_for_ready=True
                )
                for update in statuses:
                    if update.status == health_pb2.HealthCheckResponse.SERVING:
                        observed["health"] = update.status
                        break
                statuses.cancel()
                stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
                stream = stub.WatchCampaigns(
                    campaign_service_pb2.WatchCampaignsRequest(), timeout=10
                )
                observed["first"] = next(stream).version
            finally:
                # Signal until run() has returned: it may not have installed its
                # handler yet the first time.
                while not returned.wait(0.05):
                    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
            observed["rest"] = list(stream)

    thread = threading.Thread(target=client)
    thread.start()
    with caplog.at_level("INFO", logger="services.campaigns.main"):
        try:
            code = main.run(args)
        finally:
            returned.set()
    thread.join(10)

    assert code == 0
    assert not thread.is_alive()
    assert observed["health"] == health_pb2.HealthCheckResponse.SERVING
    assert observed["first"]
    assert observed["rest"] == []
    assert f"CampaignService ready on 127.0.0.1:{port}" in caplog.text
