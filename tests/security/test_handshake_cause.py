"""A failed TLS handshake toward the campaign service is logged with the TLS layer's
cause, not only grpc's "Socket closed"; once per change of cause."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from services.matcher.bootstrap import start_matcher
from services.matcher.settings import MatcherSettings
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions
from services.transport.tls import ClientTLSSettings, TLSSettings, server_credentials
from services.transport.tls_probe import HandshakeDiagnosis, handshake_problem, split_target
from tests.matcher.fakes import eventually
from tests.security.conftest import Serve
from tests.security.pki import PKI
from tests.security.test_tls import campaign_server

PROBE_LOG = "services.transport.tls_probe"


def mtls_campaign_server(serve_threads: Serve, pki: PKI) -> str:
    tls = TLSSettings(pki.trusted.server.cert, pki.trusted.server.key, pki.trusted.ca)
    # The certificate names localhost, not 127.0.0.1's name as grpc would look it up.
    return campaign_server(serve_threads, server_credentials(tls)).replace("127.0.0.1", "localhost")


@pytest.fixture
def store() -> Iterator[SQLiteProfileStore]:
    store = SQLiteProfileStore.in_memory()
    yield store
    store.close()


def test_a_matcher_trusting_another_ca_logs_the_verification_cause(
    serve_threads: Serve,
    pki: PKI,
    store: SQLiteProfileStore,
    io: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = mtls_campaign_server(serve_threads, pki)
    settings = MatcherSettings(
        io=io,
        server=ServerOptions(host="127.0.0.1", port=0, grace_seconds=0),
        campaigns_target=address,
        campaigns_tls=ClientTLSSettings(
            ca_file=pki.other.ca, cert_file=pki.other.client.cert, key_file=pki.other.client.key
        ),
        watch_campaigns=False,
    )
    with caplog.at_level(logging.ERROR, logger=PROBE_LOG):
        matcher = start_matcher(settings, store)
        try:
            eventually(lambda: _assert("certificate verify failed" in caplog.text))
        finally:
            matcher.stop(0)
    assert f"TLS handshake with the campaign service at {address} fails" in caplog.text


def test_the_probe_names_each_side_s_refusal(serve_threads: Serve, pki: PKI) -> None:
    address = mtls_campaign_server(serve_threads, pki)
    trusted = pki.trusted
    # We do not trust the server's CA.
    wrong_ca = ClientTLSSettings(ca_file=pki.other.ca, cert_file=trusted.client.cert,
                                 key_file=trusted.client.key)  # fmt: skip
    assert "certificate verify failed" in (handshake_problem(address, wrong_ca, timeout=10) or "")
    # The server does not trust our certificate's CA, or wants one we do not have.
    other_client = ClientTLSSettings(ca_file=trusted.ca, cert_file=pki.other.client.cert,
                                     key_file=pki.other.client.key)  # fmt: skip
    assert f"does not accept our client certificate {pki.other.client.cert}" in (
        handshake_problem(address, other_client, timeout=10) or ""
    )
    assert "requires a client certificate (mutual TLS) and none is configured" in (
        handshake_problem(address, ClientTLSSettings(ca_file=trusted.ca), timeout=10) or ""
    )
    good = ClientTLSSettings(ca_file=trusted.ca, cert_file=trusted.client.cert,
                             key_file=trusted.client.key)  # fmt: skip
    assert handshake_problem(address, good) is None


def test_the_cause_is_logged_once_per_change(caplog: pytest.LogCaptureFixture) -> None:
    causes = iter(["unknown ca", "unknown ca", None, "unknown ca", "certificate expired"])
    diagnosis = HandshakeDiagnosis(
        "campaigns:50052", ClientTLSSettings(), what="the campaign service",
        probe=lambda _target, _tls: next(causes),
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger=PROBE_LOG):
        for _ in range(5):
            diagnosis.run()
    assert [r.getMessage().rpartition(": ")[2] for r in caplog.records] == [
        "unknown ca",
        "TLS handshake with the campaign service at campaigns:50052 succeeds again",
        "unknown ca",
        "certificate expired",
    ]


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("localhost:50052", ("localhost", 50052)),
        ("dns:///campaigns.internal:443", ("campaigns.internal", 443)),
        ("[::1]:50052", ("::1", 50052)),
        ("unix:///tmp/campaigns.sock", None),
        ("campaigns", None),
    ],
)
def test_targets_the_probe_can_follow(target: str, address: tuple[str, int] | None) -> None:
    assert split_target(target) == address


def _assert(condition: bool) -> None:
    assert condition
