"""The /metrics endpoint, on a free port, fetched the way Prometheus would."""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from services.observability.http import MetricsSettings, serve_metrics, start_metrics_server
from services.observability.metrics import Metrics, new_registry
from services.server_flags import add_metrics_flags, metrics_settings_from
from tests.ports import free_port

EXPECTED = (
    "grpc_server_started_total",
    "grpc_server_handled_total",
    "grpc_server_handling_seconds",
    "profilematcher_catalog_info",
    "profilematcher_catalog_age_seconds",
    "profilematcher_catalog_stale",
    "profilematcher_catalog_refreshes_total",
    "profilematcher_catalog_cache_total",
    "profilematcher_store_operation_seconds",
    "profilematcher_store_errors_total",
)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


def test_endpoint_serves_the_metrics(metrics: Metrics) -> None:
    metrics.catalog.installed("v7")
    metrics.catalog.set_age_source(lambda: 1.5, stale_after=300)
    server = start_metrics_server(0, metrics.registry, host="127.0.0.1")
    try:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        text = fetch(server.url)
    finally:
        server.close()
    for name in EXPECTED:
        assert f"# TYPE {name}" in text or f"# HELP {name}" in text, name
    assert 'profilematcher_catalog_info{version="v7"} 1.0' in text
    assert "profilematcher_catalog_age_seconds 1.5" in text
    with pytest.raises(urllib.error.URLError):
        fetch(server.url)  # closed means closed


def test_own_registry_carries_process_metrics() -> None:
    registry = new_registry()
    Metrics(registry)
    server = start_metrics_server(0, registry, host="[127.0.0.1]")
    try:
        text = fetch(server.url)
    finally:
        server.close()
    assert "process_cpu_seconds_total" in text or "python_info" in text
    assert "grpc_server_handled_total" in text


def test_a_port_in_use_is_a_clear_error() -> None:
    server = start_metrics_server(0, CollectorRegistry(), host="127.0.0.1")
    try:
        with pytest.raises(OSError, match="cannot bind metrics endpoint"):
            start_metrics_server(server.port, CollectorRegistry(), host="127.0.0.1")
    finally:
        server.close()


def test_flags_default_off_and_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_metrics_flags(parser)
    assert metrics_settings_from(parser.parse_args([])) == MetricsSettings(port=0)
    assert not MetricsSettings().enabled

    monkeypatch.setenv("PROFILE_MATCHER_METRICS_PORT", "9464")
    parser = argparse.ArgumentParser()
    add_metrics_flags(parser)
    settings = metrics_settings_from(parser.parse_args(["--metrics-host", "::"]))
    assert settings == MetricsSettings(port=9464, host="::")
    assert settings.enabled


def test_the_endpoint_the_settings_ask_for(metrics: Metrics) -> None:
    assert serve_metrics(MetricsSettings(), metrics.registry) is None  # port 0: none
    port = free_port()
    server = serve_metrics(MetricsSettings(port=port, host="127.0.0.1"), metrics.registry)
    assert server is not None
    try:
        assert server.url == f"http://127.0.0.1:{port}/metrics"
        assert "grpc_server_handled_total" in fetch(server.url)
    finally:
        server.close()
