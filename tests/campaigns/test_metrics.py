"""The campaign service's own metrics: its RPCs, the catalog it serves, its reloads and
its watchers; none of the matcher's families."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from profilematcher.campaigns.v1 import campaign_service_pb2
from services.campaigns.bootstrap import CampaignServer
from services.observability.campaign_metrics import CampaignMetrics
from tests.campaigns.conftest import wait_until, write_atomically
from tests.campaigns.test_service import Stub, _Watch
from tests.observability.conftest import names, value

Doc = dict[str, Any]


def registry(server: CampaignServer) -> CollectorRegistry:
    assert server.metrics is not None
    return server.metrics.registry


def served_version(server: CampaignServer) -> str:
    return server.served.current.catalog.version


def test_rpcs_are_counted_and_no_matcher_family_is_exported(
    server: CampaignServer, stub: Stub
) -> None:
    stub.ListCampaigns(campaign_service_pb2.ListCampaignsRequest(), timeout=10)
    exported = names(registry(server))
    assert (
        value(
            registry(server),
            "grpc_server_handled_total",
            grpc_method="ListCampaigns",
            grpc_code="OK",
        )
        == 1
    )
    assert not [n for n in exported if "store" in n or "cache" in n or "refreshes" in n]
    assert "profilematcher_catalog_age_seconds" not in exported


def test_catalog_version_size_and_watchers_are_read_when_scraped(
    server: CampaignServer, stub: Stub
) -> None:
    metrics = registry(server)
    version = served_version(server)
    assert value(metrics, "profilematcher_campaigns_catalog_info", version=version) == 1
    assert value(metrics, "profilematcher_campaigns_catalog_campaigns") == 5
    assert value(metrics, "profilematcher_campaigns_watchers") == 0
    watch = _Watch(stub)
    try:
        watch.next()
        assert value(metrics, "profilematcher_campaigns_watchers") == 1
    finally:
        watch.close()
    wait_until(lambda: value(metrics, "profilematcher_campaigns_watchers") == 0)


def test_reloads_are_counted_by_result(
    server: CampaignServer, catalog_path: Path, catalog_docs: list[Doc]
) -> None:
    metrics = registry(server)

    def reloads(result: str) -> float:
        return value(metrics, "profilematcher_campaigns_reloads_total", result=result)

    # Polls of the file the server started with may already have counted "unchanged"
    # rereads (a file this new is reread until it settles), never another result.
    assert (reloads("ok"), reloads("error")) == (0, 0)
    before = served_version(server)
    write_atomically(catalog_path, catalog_docs[3:])
    wait_until(lambda: reloads("ok") == 1)
    assert served_version(server) != before
    version = served_version(server)
    assert value(metrics, "profilematcher_campaigns_catalog_info", version=version) == 1
    assert value(metrics, "profilematcher_campaigns_catalog_info", version=before) == 0

    bad = copy.deepcopy(catalog_docs)
    bad[0]["end_date"] = "2021-01-01 00:00:00Z"
    write_atomically(catalog_path, bad)
    wait_until(lambda: reloads("error") >= 1)
    assert served_version(server) == version


def test_the_last_successful_reload_time_moves_only_on_success() -> None:
    now = [1000.0]
    metrics = CampaignMetrics(
        CollectorRegistry(), catalog=lambda: ("v1", 0), watchers=lambda: 0, clock=lambda: now[0]
    )
    name = "profilematcher_campaigns_last_reload_success_timestamp_seconds"
    assert value(metrics.registry, name) == 1000.0  # loaded at start-up
    now[0] = 2000.0
    metrics.reloaded("error")
    assert value(metrics.registry, name) == 1000.0
    metrics.reloaded("unchanged")
    assert value(metrics.registry, name) == 2000.0
    now[0] = 3000.0
    metrics.reloaded("ok")
    assert value(metrics.registry, name) == 3000.0
    assert value(metrics.registry, "profilematcher_campaigns_reloads_total", result="error") == 1
