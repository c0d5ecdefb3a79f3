"""components/tls: the matcher serves TLS from the Secret's files, and its probes no
longer ask kubelet's plaintext gRPC client."""

from __future__ import annotations

from pathlib import Path

from services.cli import build_parser
from tests.deploy.kustomize import Obj, container, named, render_with_components


def matcher_with_tls(tmp_path: Path) -> tuple[Obj, Obj]:
    objects = render_with_components("production", ["tls"], tmp_path)
    deployment = named(objects, "Deployment", "profile-matcher")
    return deployment, container(deployment, "matcher")


def test_the_certificate_and_key_come_from_the_mounted_secret(tmp_path: Path) -> None:
    deployment, c = matcher_with_tls(tmp_path)
    env = {e["name"]: e.get("value") for e in c["env"]}
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "profile-matcher-tls"
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
    for variable, key in (
        ("PROFILE_MATCHER_TLS_CERT", "tls.crt"),
        ("PROFILE_MATCHER_TLS_KEY", "tls.key"),
    ):
        assert env[variable] == f"{mount['mountPath']}/{key}"
    # Readable by the matcher's group only.
    security = deployment["spec"]["template"]["spec"]["securityContext"]
    assert security["fsGroup"] == security["runAsGroup"]


def test_no_probe_speaks_plaintext_grpc_to_the_tls_port(tmp_path: Path) -> None:
    _, c = matcher_with_tls(tmp_path)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert "grpc" not in c[probe], probe
    assert c["readinessProbe"]["tcpSocket"]["port"] == 50051
    assert c["livenessProbe"]["tcpSocket"]["port"] == 50051


def test_the_startup_check_is_a_health_command_over_tls(tmp_path: Path) -> None:
    _, c = matcher_with_tls(tmp_path)
    program, *args = c["startupProbe"]["exec"]["command"]
    assert program == "profile-matcher"
    parsed = build_parser().parse_args(args)
    assert parsed.command == "health"
    assert parsed.target == "localhost:50051"
    assert str(parsed.tls_ca).startswith("/etc/profile-matcher/tls/")
