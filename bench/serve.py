"""Servers under test for the end-to-end benchmarks, each in its own process.

    python -m bench.serve matcher --port 50061 --players 100000
    python -m bench.serve echo --port 50062

`matcher` is the real thing (demo catalog, embedded store in memory, seeded).
`echo` is the baseline: the same server plumbing (services.transport.server with
the same options) answering GetClientConfig with a prebuilt response of the same
size, so the difference between the two is what matching and storage cost.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.campaigns.demo import write_demo_catalog
from services.campaigns.server import CampaignSettings, start_campaign_server
from services.demo.players import generate_players, sample_profile
from services.domain.profile_json import profile_from_document
from services.matcher.server import SERVICE_NAMES, MatcherSettings, start_matcher
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import Metrics, new_registry
from services.storage.importing import import_profiles
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.convert import profile_to_message
from services.transport.server import ServerOptions, create_server, start_server, wait_for_signal

SAMPLE_PLAYER = str(sample_profile()["player_id"])


def echo_response(active_campaigns: list[str]) -> pb.GetClientConfigResponse:
    """What the matcher answers for the sample player, prebuilt."""
    profile = profile_to_message(profile_from_document(sample_profile()))
    profile.active_campaigns[:] = active_campaigns
    return pb.GetClientConfigResponse(profile=profile)


class EchoServicer(matcher_service_pb2_grpc.ProfileMatcherServiceServicer):
    def __init__(self, response: pb.GetClientConfigResponse) -> None:
        self._response = response

    def GetClientConfig(  # noqa: N802
        self, request: pb.GetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetClientConfigResponse:
        return self._response

    def BatchGetClientConfig(  # noqa: N802
        self, request: pb.BatchGetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetClientConfigResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the echo baseline answers GetClientConfig")

    def MatchProfile(  # noqa: N802
        self, request: pb.MatchProfileRequest, context: grpc.ServicerContext
    ) -> pb.MatchProfileResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the echo baseline answers GetClientConfig")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["matcher", "echo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    options = ServerOptions(host="127.0.0.1", port=args.port, max_workers=args.workers)

    if args.mode == "echo":
        # The matcher's own interceptor too: the baseline differs only in the servicer.
        server = create_server(options, [MetricsInterceptor(Metrics(new_registry()))])
        campaigns = ["weekend_sale", "mycampaign", "starter_fleet", "welcome_pack"]
        matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
            EchoServicer(echo_response(campaigns)), server
        )
        running = start_server(server, options, SERVICE_NAMES)
        running.set_serving(True)
        print(f"echo ready on {running.port}", flush=True)
        wait_for_signal([running])
        return

    with tempfile.TemporaryDirectory() as tmp:
        catalog = write_demo_catalog(Path(tmp) / "catalog.json", datetime.now(UTC))
        campaign_server = start_campaign_server(
            CampaignSettings(catalog=catalog, host="127.0.0.1", port=0)
        )
        store = SQLiteProfileStore.in_memory()
        docs = [sample_profile(), *generate_players(args.players)]
        import_profiles(store, ((i, doc, None) for i, doc in enumerate(docs)))
        matcher = start_matcher(
            MatcherSettings(server=options, campaigns_target=f"127.0.0.1:{campaign_server.port}"),
            store,
        )
        print(f"matcher ready on {matcher.port}", flush=True)
        wait_for_signal([matcher, campaign_server])
        store.close()


if __name__ == "__main__":
    main()
