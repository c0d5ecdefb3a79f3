"""A catalog mounted from a Kubernetes ConfigMap is reloaded when kubelet updates it.

kubelet never rewrites the file in place. The volume holds a timestamped directory
with the data, a symlink `..data` to it, and `catalog.json -> ..data/catalog.json`;
an update writes a new timestamped directory, points a new link `..data_tmp` at it,
renames that over `..data` (atomically), then removes the old directory. The path
the service watches never changes; `os.stat` follows both links to a new file.

The tests give the new file the old one's size and modification time, and a clock
long past it, so that nothing but the inode differs and no settle window rereads it:
the swap alone must be noticed.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from profilematcher.campaigns.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from services.campaigns.bootstrap import CampaignServer, start_campaign_server
from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_file
from services.campaigns.file_watcher import CatalogFileWatcher, file_signature
from services.campaigns.served_catalog import ServedCatalog
from services.campaigns.settings import CampaignSettings

Doc = dict[str, Any]

# Both versions' files carry this modification time (2025-01-01T00:00:00Z) ...
MTIME_NS = 1_735_689_600_000_000_000
# ... and the watcher's clock reads a day later: long settled.
A_DAY_LATER_NS = MTIME_NS + 86_400 * 1_000_000_000
FIRST = "..2026_11_27_08_00_00.000000001"
SECOND = "..2026_11_27_09_00_00.000000002"


def write_version(volume: Path, directory: str, docs: list[Doc]) -> None:
    """What kubelet writes first: the new data in a directory of its own."""
    (volume / directory).mkdir()
    data = volume / directory / "catalog.json"
    data.write_text(json.dumps(docs, indent=2))
    os.utime(data, ns=(MTIME_NS, MTIME_NS))


def mount(volume: Path, docs: list[Doc]) -> Path:
    """A ConfigMap volume as kubelet first lays it out; the path the service reads."""
    volume.mkdir()
    write_version(volume, FIRST, docs)
    (volume / "..data").symlink_to(FIRST)
    (volume / "catalog.json").symlink_to("..data/catalog.json")
    return volume / "catalog.json"


def update(volume: Path, docs: list[Doc], *, new: str = SECOND, old: str = FIRST) -> None:
    """kubelet's update: new directory, `..data_tmp` renamed over `..data`, old removed."""
    write_version(volume, new, docs)
    (volume / "..data_tmp").symlink_to(new)
    os.replace(volume / "..data_tmp", volume / "..data")
    shutil.rmtree(volume / old)


def same_size_change(docs: list[Doc]) -> list[Doc]:
    changed = copy.deepcopy(docs)
    assert changed[0]["name"] == "mycampaign"
    assert changed[0]["priority"] == 10.5
    changed[0]["priority"] = 11.5
    return changed


def priority_of(served: ServedCatalog, name: str) -> float:
    (campaign,) = [c for c in served.current.catalog.campaigns if c.name == name]
    return campaign.priority


def test_the_swap_changes_only_the_inode_and_is_reloaded(
    tmp_path: Path, catalog_docs: list[Doc]
) -> None:
    path = mount(tmp_path / "catalog", catalog_docs)
    before = file_signature(path)
    served = ServedCatalog(build_catalog(load_catalog_file(path)))
    watcher = CatalogFileWatcher(path, served, seen=before, clock_ns=lambda: A_DAY_LATER_NS)
    first = served.current
    watcher.poll()
    assert served.current is first  # settled: an unchanged mount is not reread

    update(tmp_path / "catalog", same_size_change(catalog_docs))
    after = file_signature(path)
    assert before is not None
    assert after is not None
    assert (after.device, after.size, after.mtime_ns) == (
        before.device,
        before.size,
        before.mtime_ns,
    )
    assert after.inode != before.inode
    watcher.poll()

    assert served.current.catalog.version != first.catalog.version
    assert priority_of(served, "mycampaign") == 11.5


def test_a_second_update_is_reloaded_too(tmp_path: Path, catalog_docs: list[Doc]) -> None:
    """The directory the first update made is the one the second removes."""
    volume = tmp_path / "catalog"
    path = mount(volume, catalog_docs)
    served = ServedCatalog(build_catalog(load_catalog_file(path)))
    watcher = CatalogFileWatcher(
        path, served, seen=file_signature(path), clock_ns=lambda: A_DAY_LATER_NS
    )
    update(volume, same_size_change(catalog_docs))
    watcher.poll()
    assert priority_of(served, "mycampaign") == 11.5

    update(volume, catalog_docs[:2], new="..2026_11_27_10_00_00.000000003", old=SECOND)
    watcher.poll()

    assert {c.name for c in served.current.catalog.campaigns} == {"mycampaign", "big_sale"}
    assert priority_of(served, "mycampaign") == 10.5


@pytest.fixture
def mounted_server(tmp_path: Path, catalog_docs: list[Doc]) -> Iterator[CampaignServer]:
    """The campaign service on a ConfigMap-like mount; it never polls by itself
    (an hour apart), the test polls."""
    settings = CampaignSettings(
        catalog=mount(tmp_path / "catalog", catalog_docs),
        host="127.0.0.1",
        port=0,
        poll_interval=3600.0,
        max_workers=4,
        max_watchers=2,
        grace_seconds=0.0,
        drain_seconds=0.0,
    )
    running = start_campaign_server(settings)
    try:
        yield running
    finally:
        running.stop(grace=0)


def test_list_campaigns_serves_the_catalog_kubelet_swapped_in(
    tmp_path: Path, catalog_docs: list[Doc], mounted_server: CampaignServer
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{mounted_server.port}") as channel:
        stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        request = campaign_service_pb2.ListCampaignsRequest(game="mygame")
        before = stub.ListCampaigns(request, timeout=5)

        update(tmp_path / "catalog", same_size_change(catalog_docs))
        mounted_server.file_watcher.poll()
        after = stub.ListCampaigns(request, timeout=5)

    assert after.version != before.version
    priorities = {c.name: c.priority for c in after.campaigns}
    assert priorities["mycampaign"] == 11.5
    assert {c.name: c.priority for c in before.campaigns}["mycampaign"] == 10.5
