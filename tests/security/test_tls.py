"""TLS and mutual TLS on a real server (each of the matcher's: `serve`), and the matcher's
TLS client to CampaignService (on the campaign service's one server kind)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.campaigns.v1 import campaign_service_pb2_grpc
from services.campaigns.servicer import SERVICE_NAME as CAMPAIGN_SERVICE
from services.domain.errors import DependencyUnavailable
from services.matcher.campaign_client import CampaignClient
from services.transport.tls import (
    ClientTLSSettings,
    TLSSettings,
    client_tls,
    open_channel,
    server_credentials,
    server_tls,
)
from tests.matcher.fakes import FakeCampaignService, sample_campaign
from tests.security.conftest import Serve, target
from tests.security.pki import PKI

SERVING = health_pb2.HealthCheckResponse.SERVING


def check(channel: grpc.Channel) -> int:
    """One health check: proves a whole round trip over the channel."""
    response = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=10
    )
    status: int = response.status
    return status


def refused(channel: grpc.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        check(channel)
    code: grpc.StatusCode = info.value.code()
    return code


def tls_server(serve: Serve, pki: PKI, *, mutual: bool = False) -> str:
    tls = TLSSettings(
        cert_file=pki.trusted.server.cert,
        key_file=pki.trusted.server.key,
        ca_file=pki.trusted.ca if mutual else None,
    )
    return target(serve(credentials=server_credentials(tls)))


# --- server-side TLS ----------------------------------------------------------------


def test_client_trusting_the_servers_ca_gets_through(serve: Serve, pki: PKI) -> None:
    address = tls_server(serve, pki)
    with open_channel(address, ClientTLSSettings(ca_file=pki.trusted.ca)) as channel:
        assert check(channel) == SERVING


def test_plaintext_client_against_tls_server_is_unavailable(serve: Serve, pki: PKI) -> None:
    address = tls_server(serve, pki)
    with open_channel(address, ClientTLSSettings()) as channel:
        assert refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_client_trusting_another_ca_is_unavailable(serve: Serve, pki: PKI) -> None:
    address = tls_server(serve, pki)
    with open_channel(address, ClientTLSSettings(ca_file=pki.other.ca)) as channel:
        assert refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_tls_client_against_plaintext_server_is_unavailable(serve: Serve, pki: PKI) -> None:
    address = target(serve(credentials=server_credentials(TLSSettings())))
    with open_channel(address, ClientTLSSettings(ca_file=pki.trusted.ca)) as channel:
        assert refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_without_tls_settings_the_server_is_plaintext(serve: Serve) -> None:
    assert server_credentials(TLSSettings()) is None
    address = target(serve(credentials=None))
    with open_channel(address, ClientTLSSettings()) as channel:
        assert check(channel) == SERVING


# --- mutual TLS ---------------------------------------------------------------------


def test_mtls_client_without_certificate_is_unavailable(serve: Serve, pki: PKI) -> None:
    address = tls_server(serve, pki, mutual=True)
    with open_channel(address, ClientTLSSettings(ca_file=pki.trusted.ca)) as channel:
        assert refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_mtls_client_with_certificate_of_another_ca_is_unavailable(serve: Serve, pki: PKI) -> None:
    address = tls_server(serve, pki, mutual=True)
    tls = ClientTLSSettings(
        ca_file=pki.trusted.ca, cert_file=pki.other.client.cert, key_file=pki.other.client.key
    )
    with open_channel(address, tls) as channel:
        assert refused(channel) == grpc.StatusCode.UNAVAILABLE


def test_mtls_client_with_ca_signed_certificate_gets_through(serve: Serve, pki: PKI) -> None:
    address = tls_server(serve, pki, mutual=True)
    tls = ClientTLSSettings(
        ca_file=pki.trusted.ca, cert_file=pki.trusted.client.cert, key_file=pki.trusted.client.key
    )
    with open_channel(address, tls) as channel:
        assert check(channel) == SERVING


# --- the matcher's client of CampaignService ----------------------------------------


def campaign_server(serve: Serve, credentials: grpc.ServerCredentials | None) -> str:
    def register(server: grpc.Server) -> Sequence[str]:
        campaign_service_pb2_grpc.add_CampaignServiceServicer_to_server(
            FakeCampaignService([sample_campaign()]), server
        )
        return (CAMPAIGN_SERVICE,)

    return target(serve(credentials=credentials, register=register))


def test_campaign_client_fetches_over_mtls(serve_threads: Serve, pki: PKI) -> None:
    tls = TLSSettings(pki.trusted.server.cert, pki.trusted.server.key, pki.trusted.ca)
    address = campaign_server(serve_threads, server_credentials(tls))
    client_tls = ClientTLSSettings(
        ca_file=pki.trusted.ca, cert_file=pki.trusted.client.cert, key_file=pki.trusted.client.key
    )
    with open_channel(address, client_tls) as channel:
        catalog = CampaignClient(channel, timeout=10).fetch(None)
    assert catalog is not None
    assert catalog.version == "v1"
    assert [c.name for c in catalog.campaigns] == ["mycampaign"]


def test_campaign_client_without_tls_gets_dependency_unavailable(
    serve_threads: Serve, pki: PKI
) -> None:
    tls = TLSSettings(pki.trusted.server.cert, pki.trusted.server.key)
    address = campaign_server(serve_threads, server_credentials(tls))
    with (
        open_channel(address, ClientTLSSettings()) as channel,
        pytest.raises(DependencyUnavailable, match="UNAVAILABLE"),
    ):
        CampaignClient(channel, timeout=10).fetch(None)


def test_open_channel_passes_channel_options(serve_threads: Serve, pki: PKI) -> None:
    # With the override the client checks the certificate against that name instead of
    # the target's host: how a deployment reaches a server by an address its
    # certificate does not carry. (A client's option: one server kind is enough.)
    address = tls_server(serve_threads, pki)
    options = [("grpc.ssl_target_name_override", "not-in-the-certificate")]
    with open_channel(address, ClientTLSSettings(ca_file=pki.trusted.ca), options) as channel:
        assert refused(channel) == grpc.StatusCode.UNAVAILABLE
    options = [("grpc.ssl_target_name_override", "localhost")]
    with open_channel(address, ClientTLSSettings(ca_file=pki.trusted.ca), options) as channel:
        assert check(channel) == SERVING


# --- settings validation (files: server_tls, client_tls) ----------------------------


def test_tls_settings_enabled_and_mutual(pki: PKI) -> None:
    assert not TLSSettings().enabled
    one_way = TLSSettings(pki.trusted.server.cert, pki.trusted.server.key)
    assert one_way.enabled
    assert not one_way.mutual
    assert TLSSettings(pki.trusted.server.cert, pki.trusted.server.key, pki.trusted.ca).mutual


def test_certificate_without_key_is_refused(pki: PKI) -> None:
    with pytest.raises(ValueError, match="without its private key"):
        TLSSettings(cert_file=pki.trusted.server.cert)


def test_key_without_certificate_is_refused(pki: PKI) -> None:
    with pytest.raises(ValueError, match="without its certificate"):
        TLSSettings(key_file=pki.trusted.server.key)


def test_client_ca_without_server_certificate_is_refused(pki: PKI) -> None:
    with pytest.raises(ValueError, match="needs the server's own certificate"):
        TLSSettings(ca_file=pki.trusted.ca)


def test_unreadable_file_is_named(pki: PKI, tmp_path: Path) -> None:
    missing = tmp_path / "missing.crt"
    with pytest.raises(ValueError, match=f"cannot read TLS certificate {missing}"):
        server_tls(cert_file=missing, key_file=pki.trusted.server.key)
    with pytest.raises(ValueError, match=f"cannot read client CA {missing}"):
        server_tls(pki.trusted.server.cert, pki.trusted.server.key, ca_file=missing)
    with pytest.raises(ValueError, match=f"cannot read server CA {missing}"):
        client_tls(ca_file=missing)


def test_settings_read_no_file_credentials_name_the_missing_one(tmp_path: Path) -> None:
    # Building the value touches no file: the settings parsers (server_tls,
    # client_tls) check them, and credentials built from unchecked settings name them.
    missing = tmp_path / "missing.crt"
    tls = TLSSettings(cert_file=missing, key_file=tmp_path / "missing.key")
    assert tls.enabled
    assert ClientTLSSettings(ca_file=missing).enabled
    with pytest.raises(ValueError, match=f"cannot read TLS certificate {missing}"):
        server_credentials(tls)


def test_key_of_another_certificate_is_refused(pki: PKI) -> None:
    with pytest.raises(ValueError, match="cannot be used together") as info:
        server_tls(cert_file=pki.trusted.server.cert, key_file=pki.other.server.key)
    assert str(pki.trusted.server.cert) in str(info.value)
    assert str(pki.other.server.key) in str(info.value)


def test_file_that_is_no_certificate_is_refused(pki: PKI, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=f"client CA {junk} holds no usable PEM certificate"):
        server_tls(pki.trusted.server.cert, pki.trusted.server.key, ca_file=junk)
    with pytest.raises(ValueError, match="cannot be used together"):
        server_tls(cert_file=junk, key_file=pki.trusted.server.key)


def test_encrypted_key_is_refused_without_prompting(pki: PKI, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(pki.trusted.server.key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(ValueError, match=f"private key {encrypted} is encrypted"):
        server_tls(cert_file=pki.trusted.server.cert, key_file=encrypted)


def test_client_tls_is_on_as_soon_as_a_file_is_named(pki: PKI) -> None:
    assert not ClientTLSSettings().enabled
    assert ClientTLSSettings(enabled=True).enabled
    assert ClientTLSSettings(ca_file=pki.trusted.ca).enabled
    assert ClientTLSSettings(
        cert_file=pki.trusted.client.cert, key_file=pki.trusted.client.key
    ).enabled


def test_client_certificate_without_key_is_refused(pki: PKI) -> None:
    with pytest.raises(ValueError, match="has no private key"):
        ClientTLSSettings(cert_file=pki.trusted.client.cert)
    with pytest.raises(ValueError, match="has no certificate"):
        ClientTLSSettings(key_file=pki.trusted.client.key)
