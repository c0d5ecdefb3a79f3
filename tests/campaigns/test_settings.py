"""The campaign service's settings are parsed in one place: flags, environment, TLS,
token, metrics and shutdown timings."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from services.campaigns.settings import CampaignSettings, add_flags
from services.server_flags import CAMPAIGNS_TOKEN_ENV

TOKEN = "0123456789abcdef-campaign-token"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        CAMPAIGNS_TOKEN_ENV,
        "PROFILE_MATCHER_CATALOG",
        "PROFILE_MATCHER_CAMPAIGNS_PORT",
        "PROFILE_MATCHER_METRICS_PORT",
        "PROFILE_MATCHER_TLS_CERT",
        "PROFILE_MATCHER_TLS_KEY",
        "PROFILE_MATCHER_TLS_CA",
    ):
        monkeypatch.delenv(name, raising=False)


def test_from_args_gathers_every_flag() -> None:
    args = parse(
        "--catalog", "c.json", "--port", "0", "--auth-token", TOKEN,
        "--metrics-port", "9464", "--drain-delay", "0.5", "--grace", "2",
    )  # fmt: skip
    settings = CampaignSettings.from_args(args)
    assert (settings.catalog, settings.port, settings.auth_token) == (Path("c.json"), 0, TOKEN)
    assert (settings.metrics.port, settings.drain_seconds, settings.grace_seconds) == (
        9464,
        0.5,
        2,
    )
    assert not settings.tls.enabled


def test_from_args_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_CATALOG", "env.json")
    monkeypatch.setenv(CAMPAIGNS_TOKEN_ENV, TOKEN)
    settings = CampaignSettings.from_args(parse())
    assert (settings.catalog, settings.auth_token) == (Path("env.json"), TOKEN)


def test_from_args_checks_the_tls_files(tmp_path: Path) -> None:
    missing = tmp_path / "server.crt"
    args = parse("--catalog", "c.json", "--tls-cert", str(missing), "--tls-key", str(missing))
    with pytest.raises(ValueError, match=f"cannot read TLS certificate {missing}"):
        CampaignSettings.from_args(args)
