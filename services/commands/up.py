"""`profile-matcher up`: the whole product on one machine, with no server to install.

Starts the campaign service over a demo catalog (windows relative to now, so
campaigns are live) and the matcher over the embedded store, seeded with the
brief's sample player and generated ones; stops both cleanly on Ctrl-C.

Both listen on the loopback interface only: this machine's users are trusted, so
the matcher takes writes without a token, as no server reachable from elsewhere does.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from services.campaigns.bootstrap import start_campaign_server
from services.campaigns.demo import write_demo_catalog
from services.campaigns.settings import CampaignSettings
from services.config import add_flag, optional_path
from services.demo.players import generate_players, sample_profile
from services.domain.profile_json import profile_from_document
from services.matcher.bootstrap import start_matcher
from services.matcher.settings import MatcherSettings, default_match_workers
from services.profiles.import_file import iter_profile_documents
from services.profiles.import_profiles import ImportReport, import_profiles
from services.storage.base import ProfileStore
from services.storage.factory import open_store
from services.transport.grpc_server import ServerOptions, wait_for_signal

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def configure(parser: argparse.ArgumentParser) -> None:
    # The matcher's and the campaign service's variables where they mean the same.
    flags: list[tuple[str, str, object, Callable[[str], object], str]] = [
        ("--port", "PROFILE_MATCHER_PORT", 50051, int, "matcher port"),
        ("--campaigns-port", "PROFILE_MATCHER_CAMPAIGNS_PORT", 50052, int,
         "campaign service port"),
        ("--catalog", "PROFILE_MATCHER_CATALOG", None, optional_path,
         "campaign catalog file instead of the demo catalog"),
        ("--profiles", "PROFILE_MATCHER_UP_PROFILES", None, optional_path,
         "profiles (JSON list or JSON lines) instead of the demo ones"),
        ("--players", "PROFILE_MATCHER_UP_PLAYERS", 5000, int, "generated players to add"),
        # Not the matcher's PROFILE_MATCHER_STORE: the demo seeds generated players.
        ("--store", "PROFILE_MATCHER_UP_STORE", "", str,
         "embedded store file to keep data in; empty: memory"),
    ]  # fmt: skip
    for flag, env, default, convert, help_text in flags:
        add_flag(parser, flag, env=env, default=default, convert=convert, help=help_text)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="profile-matcher-") as tmp:
        catalog = args.catalog or write_demo_catalog(Path(tmp) / "catalog.json", datetime.now(UTC))
        campaigns = start_campaign_server(campaign_settings(args, catalog))
        store = open_store(args.store or None)
        try:
            report = _seed(store, args)
            log.info(
                "store seeded: %d created, %d updated, %d rejected",
                report.created,
                report.updated,
                report.rejected,
            )
            matcher = start_matcher(matcher_settings(args, campaigns.port), store)
            banner = _banner(matcher.port, campaigns.port, catalog)
            wait_for_signal([matcher, campaigns], ready=lambda: print(banner, flush=True))
        finally:
            campaigns.stop(0)
            store.close()
    return 0


# One machine, no load balancer to drain: Ctrl-C stops at once (calls in flight still
# get their grace).
def campaign_settings(args: argparse.Namespace, catalog: Path) -> CampaignSettings:
    return CampaignSettings(
        catalog=catalog, host=LOOPBACK, port=args.campaigns_port, drain_seconds=0
    )


def matcher_settings(args: argparse.Namespace, campaigns_port: int) -> MatcherSettings:
    return MatcherSettings(
        server=ServerOptions(host=LOOPBACK, port=args.port, drain_seconds=0),
        campaigns_target=f"{LOOPBACK}:{campaigns_port}",
        # The store it serves, so that where matching runs fits it (--io aio reads
        # only the in-memory store on its loop).
        store=args.store,
        match_workers=default_match_workers(args.store),
        allow_unauthenticated_writes=True,
    )


def _seed(store: ProfileStore, args: argparse.Namespace) -> ImportReport:
    if args.profiles:
        with args.profiles.open(encoding="utf-8") as stream:
            return import_profiles(store, iter_profile_documents(stream))
    docs = [sample_profile(), *generate_players(args.players)]
    return import_profiles(store, ((i, doc, None) for i, doc in enumerate(docs)))


def _banner(matcher_port: int, campaigns_port: int, catalog: Path) -> str:
    player = profile_from_document(sample_profile()).player_id
    # The address bound, not `localhost`, which may resolve to ::1 first.
    target = f"{LOOPBACK}:{matcher_port}"
    return f"""
Profile Matcher is up.
  matcher           {target}  (ProfileMatcherService, ProfileService)
  campaign service  {LOOPBACK}:{campaigns_port}  (CampaignService; catalog {catalog})

Try (grpcurl uses server reflection, no proto files needed):
  grpcurl -plaintext {target} list
  grpcurl -plaintext -d '{{"player_id": "{player}", "context": {{"app_version": "2.3.1"}}}}' \\
      {target} profilematcher.matcher.v1.ProfileMatcherService/GetClientConfig
  grpcurl -plaintext -d '{{"profile": {{"level": 7, "country": "US"}}}}' \\
      {target} profilematcher.matcher.v1.ProfileMatcherService/MatchProfile
  grpcurl -plaintext {LOOPBACK}:{campaigns_port} \\
      profilematcher.campaigns.v1.CampaignService/ListCampaigns

Ctrl-C stops both.
"""
