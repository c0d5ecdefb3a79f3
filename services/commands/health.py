"""`profile-matcher health HOST:PORT`: exit 0 when the server reports SERVING.

For container health checks, where no grpc_health_probe binary is at hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.transport.security import ClientTLSSettings, open_channel


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="HOST:PORT of any Profile Matcher server")
    parser.add_argument("--service", default="", help="service name (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default 2)")
    parser.add_argument("--tls-ca", type=Path, help="CA to verify a TLS server with")
    parser.add_argument("--tls-cert", type=Path, help="client certificate, for mutual TLS")
    parser.add_argument("--tls-key", type=Path, help="client key, for mutual TLS")


def run(args: argparse.Namespace) -> int:
    try:
        tls = ClientTLSSettings(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key)
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
