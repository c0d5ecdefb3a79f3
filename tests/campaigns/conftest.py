"""Fixtures for the campaign service: catalog files, and real servers with real channels."""

from __future__ import annotations

import argparse
import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from profilematcher.campaigns.v1 import campaign_service_pb2_grpc
from services.campaigns import main
from services.campaigns.bootstrap import CampaignServer, start_campaign_server
from services.campaigns.settings import CampaignSettings

# Small, so that tests see reloads quickly; waits are bounded, never timed.
POLL_INTERVAL = 0.02
WAIT_SECONDS = 5.0

Doc = dict[str, Any]


def parse_args(*argv: str) -> argparse.Namespace:
    """`argv` as `profile-matcher campaigns` parses its command line."""
    parser = argparse.ArgumentParser(prog="profile-matcher campaigns")
    main.configure(parser)
    return parser.parse_args(argv)


def write_atomically(path: Path, content: str | list[Doc] | Doc) -> None:
    """Replaces the file in one rename, as operators should (and editors mostly do)."""
    text = content if isinstance(content, str) else json.dumps(content, indent=2)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.005)


@pytest.fixture(autouse=True)
def _no_file_watcher_outlives_its_test() -> Iterator[None]:
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("catalog-file-watcher")]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def campaign_doc(sample_campaign_doc: Doc) -> Callable[..., Doc]:
    """Builds a campaign document: the sample, live for 2022, with fields overridden."""

    def build(**overrides: Any) -> Doc:
        doc = copy.deepcopy(sample_campaign_doc)
        doc.update(start_date="2022-01-01 00:00:00Z", end_date="2023-01-01 00:00:00Z")
        doc.update(overrides)
        return doc

    return build


@pytest.fixture
def catalog_docs(campaign_doc: Callable[..., Doc]) -> list[Doc]:
    """Two games, one campaign disabled, one not live in mid-2022, priorities with a tie."""
    return [
        campaign_doc(game="mygame", name="mycampaign", priority=10.5),
        campaign_doc(game="mygame", name="big_sale", priority=20),
        campaign_doc(game="mygame", name="paused", priority=30, enabled=False),
        campaign_doc(game="othergame", name="alpha", priority=10.5),
        campaign_doc(
            game="othergame",
            name="autumn",
            priority=1,
            start_date="2022-09-01 00:00:00Z",
            end_date="2022-12-01 00:00:00Z",
        ),
    ]


@pytest.fixture
def catalog_path(tmp_path: Path, catalog_docs: list[Doc]) -> Path:
    path = tmp_path / "catalog.json"
    write_atomically(path, catalog_docs)
    return path


@pytest.fixture
def settings(catalog_path: Path) -> CampaignSettings:
    return CampaignSettings(
        catalog=catalog_path,
        host="127.0.0.1",
        port=0,
        poll_interval=POLL_INTERVAL,
        max_workers=8,
        max_watchers=4,
        grace_seconds=1.0,
    )


@pytest.fixture
def server(settings: CampaignSettings) -> Iterator[CampaignServer]:
    running = start_campaign_server(settings)
    try:
        yield running
    finally:
        running.stop(grace=0)


@pytest.fixture
def channel(server: CampaignServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.Channel) -> campaign_service_pb2_grpc.CampaignServiceStub:
    return campaign_service_pb2_grpc.CampaignServiceStub(channel)
