"""`profile-matcher health HOST:PORT`: exit 0 when the server reports SERVING.

For container health checks, where no grpc_health_probe binary is at hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.config import add_flag, optional_path
from services.transport.tls import client_tls, open_channel


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="HOST:PORT of any Profile Matcher server")
    # Variables of their own: a container's PROFILE_MATCHER_TLS_* configure its server.
    flags: list[tuple[str, str, object, Callable[[str], object], str]] = [
        ("--service", "PROFILE_MATCHER_HEALTH_SERVICE", "", str,
         "service name; empty: the whole server"),
        ("--timeout", "PROFILE_MATCHER_HEALTH_TIMEOUT", 2.0, float, "seconds"),
        ("--tls-ca", "PROFILE_MATCHER_HEALTH_TLS_CA", None, optional_path,
         "CA to verify a TLS server with"),
        ("--tls-cert", "PROFILE_MATCHER_HEALTH_TLS_CERT", None, optional_path,
         "client certificate, for mutual TLS"),
        ("--tls-key", "PROFILE_MATCHER_HEALTH_TLS_KEY", None, optional_path,
         "client key, for mutual TLS"),
    ]  # fmt: skip
    for flag, env, default, convert, help_text in flags:
        add_flag(parser, flag, env=env, default=default, convert=convert, help=help_text)


def run(args: argparse.Namespace) -> int:
    try:
        tls = client_tls(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key)
    except ValueError as exc:
        print(f"profile-matcher health: {exc}", file=sys.stderr)
        return 2
    with open_channel(args.target, tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as exc:
            print(f"{args.target}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(f"{args.target}: {status}")
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1
