"""`profile-matcher campaigns --processes 2` as it runs for real."""

from __future__ import annotations

from pathlib import Path

import grpc

from profilematcher.campaigns.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from services.observability.multiprocess import WORKER_RPCS
from tests.matcher.fakes import eventually
from tests.ports import free_port
from tests.processes.cli_process import CliProcess, sample, scrape

TEST_DATA = Path(__file__).resolve().parent.parent / "data"


def list_campaigns(port: int) -> campaign_service_pb2.ListCampaignsResponse:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        response: campaign_service_pb2.ListCampaignsResponse = stub.ListCampaigns(
            campaign_service_pb2.ListCampaignsRequest(), timeout=5
        )
    return response


def test_two_workers_serve_the_catalog_and_stop_on_sigterm(tmp_path: Path) -> None:
    metrics_port = free_port()
    campaigns = CliProcess(
        [
            "campaigns", "--processes", "2", "--host", "127.0.0.1", "--port", "0",
            "--catalog", str(TEST_DATA / "campaign.json"), "--drain-delay", "0.1",
            "--grace", "1", "--metrics-port", str(metrics_port), "--metrics-host", "127.0.0.1",
        ],
        env={"TMPDIR": str(tmp_path)},
    )  # fmt: skip
    try:
        port = campaigns.serving_port()
        version = list_campaigns(port).version

        def both_workers_answered() -> None:
            for _ in range(6):
                assert list_campaigns(port).version == version
            text = scrape(metrics_port)
            assert sample(text, WORKER_RPCS + "_total", worker="0") > 0
            assert sample(text, WORKER_RPCS + "_total", worker="1") > 0

        eventually(both_workers_answered, timeout=15)

        def every_worker_published() -> None:
            text = scrape(metrics_port)
            for worker in "01":
                info = "profilematcher_campaigns_catalog_info"
                assert sample(text, info, version=version, worker=worker) == 1
                assert sample(text, "profilematcher_campaigns_catalog_campaigns", worker=worker)
            assert sample(text, "profilematcher_campaigns_watchers") == 0

        eventually(every_worker_published, timeout=10)
        assert campaigns.stop() == 0, campaigns.text
    finally:
        campaigns.kill()
    assert campaigns.text.count("CampaignService stopped") == 2, campaigns.text


def test_a_bad_catalog_is_refused_once_before_any_worker_starts(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text('[{"game": "g", "name": "x", "priority": "high"}]')
    campaigns = CliProcess(
        ["campaigns", "--processes", "2", "--port", "0", "--catalog", str(catalog)]
    )
    try:
        assert campaigns.process.wait(timeout=30) == 2
    finally:
        campaigns.kill()
    assert campaigns.text.count("the catalog cannot be served") == 1, campaigns.text
    assert "started (pid" not in campaigns.text
