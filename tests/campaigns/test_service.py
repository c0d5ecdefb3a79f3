"""CampaignService end to end: a real server on port 0, real channels, typed stubs."""

from __future__ import annotations

import copy
import dataclasses
import logging
import queue
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from profilematcher.campaigns.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from services.campaigns.bootstrap import CampaignServer, start_campaign_server
from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_file
from services.campaigns.errors import CatalogError
from services.campaigns.servicer import SERVICE_NAME
from services.campaigns.settings import CampaignSettings
from services.observability.http import MetricsSettings
from tests.campaigns.conftest import wait_until, write_atomically

Doc = dict[str, Any]
Stub = campaign_service_pb2_grpc.CampaignServiceStub
# How long a watcher may take to see a rewritten file: polls are 20 ms apart, and the
# rest is slack for a loaded machine.
CHANGE_SECONDS = 5.0

ALL_IN_ORDER = [
    ("mygame", "paused"),
    ("mygame", "big_sale"),
    ("mygame", "mycampaign"),
    ("othergame", "alpha"),
    ("othergame", "autumn"),
]


def _list(stub: Stub, **fields: Any) -> campaign_service_pb2.ListCampaignsResponse:
    return stub.ListCampaigns(campaign_service_pb2.ListCampaignsRequest(**fields), timeout=5)


def _names(response: Any) -> list[tuple[str, str]]:
    return [(c.game, c.name) for c in response.campaigns]


def _at(text: str) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))
    return ts


def _error(stub: Stub, **fields: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        _list(stub, **fields)
    return info.value


class _Watch:
    """Reads a WatchCampaigns stream on a thread so the test can wait with a bound."""

    _END = object()

    def __init__(self, stub: Stub) -> None:
        self.call = stub.WatchCampaigns(campaign_service_pb2.WatchCampaignsRequest(), timeout=30)
        self._items: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self.call:
                self._items.put(message)
            self._items.put(self._END)
        except grpc.RpcError as exc:
            self._items.put(exc)

    def next(self, timeout: float = 5.0) -> campaign_service_pb2.WatchCampaignsResponse:
        item = self._items.get(timeout=timeout)
        assert isinstance(item, campaign_service_pb2.WatchCampaignsResponse), item
        return item

    def end(self, timeout: float = 5.0) -> object:
        """The stream's end: None when it ended cleanly, else the RpcError."""
        item = self._items.get(timeout=timeout)
        self._thread.join(timeout)
        return None if item is self._END else item

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(5.0)


@pytest.fixture
def watch(stub: Stub) -> Iterator[_Watch]:
    w = _Watch(stub)
    try:
        yield w
    finally:
        w.close()


# ---- ListCampaigns ----


def test_lists_the_whole_catalog_in_order_with_its_version(stub: Stub, catalog_path: Path) -> None:
    response = _list(stub)

    assert _names(response) == ALL_IN_ORDER
    assert response.version == build_catalog(load_catalog_file(catalog_path)).version
    assert not response.unchanged
    assert response.next_page_token == ""


def test_campaigns_arrive_complete(stub: Stub, sample_campaign_doc: Doc) -> None:
    (campaign,) = [c for c in _list(stub).campaigns if c.name == "mycampaign"]

    assert campaign.priority == 10.5
    assert campaign.enabled
    assert (campaign.matchers.level.min, campaign.matchers.level.max) == (1, 3)
    assert list(campaign.matchers.has.countries) == ["US", "RO", "CA"]
    assert list(campaign.matchers.has.items) == ["item_1"]
    assert list(campaign.matchers.does_not_have.items) == ["item_4"]
    assert campaign.start_date == _at("2022-01-01T00:00:00")
    assert campaign.last_updated == _at("2021-07-13T11:46:58")


def test_filters_by_game(stub: Stub) -> None:
    assert _names(_list(stub, game="othergame")) == [
        ("othergame", "alpha"),
        ("othergame", "autumn"),
    ]
    assert _names(_list(stub, game="nogame")) == []


def test_filters_by_active_at(stub: Stub) -> None:
    mid_year = _at("2022-06-01T00:00:00")

    assert _names(_list(stub, active_at=mid_year)) == [
        ("mygame", "big_sale"),
        ("mygame", "mycampaign"),
        ("othergame", "alpha"),
    ]
    assert _names(_list(stub, game="othergame", active_at=_at("2022-09-01T00:00:00"))) == [
        ("othergame", "alpha"),
        ("othergame", "autumn"),
    ]
    # end_date is exclusive.
    assert _names(_list(stub, active_at=_at("2023-01-01T00:00:00"))) == []


def test_known_current_version_is_unchanged(stub: Stub) -> None:
    version = _list(stub).version

    response = _list(stub, known_version=version)

    assert response.unchanged
    assert response.version == version
    assert len(response.campaigns) == 0


def test_an_old_known_version_gets_the_catalog(stub: Stub) -> None:
    response = _list(stub, known_version="0123456789ab")

    assert not response.unchanged
    assert _names(response) == ALL_IN_ORDER


def test_pages_walk_the_listing(stub: Stub) -> None:
    seen: list[tuple[str, str]] = []
    token = ""
    pages = 0
    while True:
        response = _list(stub, page_size=2, page_token=token)
        seen += _names(response)
        pages += 1
        token = response.next_page_token
        if not token:
            break

    assert pages == 3
    assert seen == ALL_IN_ORDER


def test_pages_of_a_filtered_listing(stub: Stub) -> None:
    first = _list(stub, game="mygame", page_size=2)
    rest = _list(stub, game="mygame", page_size=2, page_token=first.next_page_token)

    assert _names(first) + _names(rest) == ALL_IN_ORDER[:3]
    assert rest.next_page_token == ""


def test_a_page_size_covering_everything_has_no_next_token(stub: Stub) -> None:
    assert _list(stub, page_size=5).next_page_token == ""


def test_negative_page_size_is_invalid(stub: Stub) -> None:
    error = _error(stub, page_size=-1)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "page_size: must not be negative, got -1"


@pytest.mark.parametrize(
    "token",
    ["garbage", "e30=", "eyJ2IjoiYSIsIm8iOi0xLCJxIjoieCJ9", "not base64 at all!", "é"],
    ids=["word", "empty-object", "negative-offset", "spaces", "non-ascii"],
)
def test_a_garbage_page_token_is_invalid(stub: Stub, token: str) -> None:
    error = _error(stub, page_token=token)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "page_token: is not a token from a previous ListCampaigns call"


def test_a_page_token_with_other_filters_is_invalid(stub: Stub) -> None:
    token = _list(stub, page_size=1).next_page_token

    error = _error(stub, game="mygame", page_size=1, page_token=token)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(
        "page_token: was made for a different game or active_at"
    )


def test_a_page_token_of_an_old_version_fails_precondition(
    stub: Stub, catalog_path: Path, catalog_docs: list[Doc]
) -> None:
    first = _list(stub, page_size=2)

    write_atomically(catalog_path, catalog_docs[1:])
    wait_until(lambda: _list(stub).version != first.version)
    error = _error(stub, page_size=2, page_token=first.next_page_token)

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"catalog changed since the listing began (version {first.version}" in (
        error.details() or ""
    )


def test_active_at_out_of_range_is_invalid(stub: Stub) -> None:
    error = _error(stub, active_at=timestamp_pb2.Timestamp(seconds=2**40))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "active_at: timestamp out of range"


# ---- reloading ----


def test_a_rewritten_file_is_served_without_restart(
    stub: Stub, catalog_path: Path, catalog_docs: list[Doc]
) -> None:
    before = _list(stub).version

    write_atomically(catalog_path, catalog_docs[3:])
    wait_until(lambda: _list(stub).version != before)

    assert _names(_list(stub)) == ALL_IN_ORDER[3:]


def _rewrite_is_refused(
    stub: Stub, catalog_path: Path, bad: list[Doc], caplog: pytest.LogCaptureFixture
) -> campaign_service_pb2.ListCampaignsResponse:
    """Writes `bad` over the catalog file, waits for the watcher to refuse it, and
    checks that the catalog and its version stayed; the catalog listed before."""
    before = _list(stub)
    with caplog.at_level(logging.ERROR, logger="services.campaigns.file_watcher"):
        write_atomically(catalog_path, bad)
        wait_until(lambda: "not reloaded" in caplog.text)
    after = _list(stub)
    assert after.version == before.version
    assert _names(after) == ALL_IN_ORDER
    return before


def test_an_invalid_rewrite_keeps_the_catalog_and_its_version(
    stub: Stub,
    catalog_path: Path,
    catalog_docs: list[Doc],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = copy.deepcopy(catalog_docs)
    bad[0]["end_date"] = "2021-01-01 00:00:00Z"

    before = _rewrite_is_refused(stub, catalog_path, bad, caplog)

    assert f"{catalog_path}: campaign #1 'mycampaign': end_date:" in caplog.text
    assert _list(stub, known_version=before.version).unchanged


def test_a_rewrite_reusing_a_name_in_another_game_keeps_the_catalog(
    stub: Stub,
    catalog_path: Path,
    catalog_docs: list[Doc],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = copy.deepcopy(catalog_docs)
    bad[3]["name"] = "mycampaign"  # othergame's 'alpha' renamed after mygame's #0

    _rewrite_is_refused(stub, catalog_path, bad, caplog)

    assert (
        f"{catalog_path}: campaign #4 'mycampaign': name: 'mycampaign' is already used by "
        "campaign #1 of game 'mygame'"
    ) in caplog.text


# ---- WatchCampaigns ----


def test_watch_sends_the_catalog_at_once(watch: _Watch, stub: Stub) -> None:
    first = watch.next()

    listed = _list(stub)
    assert first.version == listed.version
    assert _names(first) == ALL_IN_ORDER
    assert first.loaded_at.seconds > 0


def test_watchers_receive_a_change_within_a_second(
    stub: Stub, catalog_path: Path, catalog_docs: list[Doc]
) -> None:
    watchers = [_Watch(stub) for _ in range(3)]
    try:
        initial = [w.next() for w in watchers]
        changed = copy.deepcopy(catalog_docs)
        changed[0]["priority"] = 50

        write_atomically(catalog_path, changed)
        updates = [w.next(timeout=CHANGE_SECONDS) for w in watchers]
    finally:
        for w in watchers:
            w.close()

    assert {u.version for u in updates} == {_list(stub).version}
    assert updates[0].version != initial[0].version
    assert _names(updates[0])[0] == ("mygame", "mycampaign")


def test_watch_skips_invalid_rewrites(
    watch: _Watch,
    stub: Stub,
    catalog_path: Path,
    catalog_docs: list[Doc],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = watch.next()

    with caplog.at_level(logging.ERROR, logger="services.campaigns.file_watcher"):
        write_atomically(catalog_path, "[{")
        wait_until(lambda: "not reloaded" in caplog.text)
    write_atomically(catalog_path, catalog_docs[:1])
    update = watch.next()

    assert update.version != first.version
    assert _names(update) == [("mygame", "mycampaign")]


def test_streams_end_cleanly_when_the_server_stops(settings: CampaignSettings) -> None:
    server = start_campaign_server(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            watchers = [_Watch(Stub(channel)) for _ in range(2)]
            for w in watchers:
                w.next()

            server.stop(grace=5.0)

            assert [w.end() for w in watchers] == [None, None]
    finally:
        server.stop(grace=0)
    wait_until(lambda: server.servicer.open_watchers == 0)


def test_a_cancelled_stream_frees_its_slot(server: CampaignServer, watch: _Watch) -> None:
    watch.next()
    assert server.servicer.open_watchers == 1

    watch.close()

    wait_until(lambda: server.servicer.open_watchers == 0)


def test_watchers_beyond_the_limit_are_refused(server: CampaignServer, stub: Stub) -> None:
    watchers = [_Watch(stub) for _ in range(4)]
    try:
        for w in watchers:
            w.next()
        extra = _Watch(stub)
        error = extra.end()
    finally:
        for w in watchers:
            w.close()

    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (error.details() or "").startswith("too many open WatchCampaigns streams (limit 4)")
    # Unary calls still have threads while every stream slot is taken.
    assert _list(stub).version


# ---- operations ----


def test_health_is_serving_once_loaded(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)

    for service in ("", SERVICE_NAME):
        response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(channel: grpc.Channel) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")

    (response,) = list(reflection.ServerReflectionInfo(iter([request]), timeout=5))

    names = {s.name for s in response.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


def test_a_bad_catalog_starts_nothing(settings: CampaignSettings, catalog_path: Path) -> None:
    write_atomically(catalog_path, "{}")
    threads_before = set(threading.enumerate())

    with pytest.raises(CatalogError, match="game: is required"):
        start_campaign_server(settings)

    assert set(threading.enumerate()) <= threads_before


def test_a_metrics_port_in_use_leaves_nothing_running(settings: CampaignSettings) -> None:
    threads_before = set(threading.enumerate())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics = MetricsSettings(port=taken.getsockname()[1], host="127.0.0.1")

        with pytest.raises(OSError, match="cannot bind metrics endpoint"):
            start_campaign_server(dataclasses.replace(settings, metrics=metrics))

    # Neither the file watcher nor the gRPC server outlives the failed start.
    wait_until(lambda: set(threading.enumerate()) <= threads_before)
