"""Soak: a mixed load for a given time while faults are injected; counts what broke.

    uv run python -m bench.soak --seconds 120

One process runs the real campaign service (over a catalog file) and the real
matcher (embedded store), and client threads drive a mix of RPCs while a fault
thread, in turn: rewrites the catalog (live reload and watch), stops and restarts
the campaign service, makes the profile store hang past the call's deadline, and
makes it fail. The store faults come from a wrapper around the embedded store,
because no MongoDB server can run here; tests/matcher/test_mongodb_faults.py covers
real pymongo on the wire.

It prints requests and failures by RPC and status, and lost writes: profiles whose
last acknowledged UpdateProfile value is not what the store holds at the end (while
GetClientConfig keeps writing active_campaigns back into the same profiles).
Expected failures are UNAVAILABLE and DEADLINE_EXCEEDED while the store is faulted;
anything else (UNKNOWN, INTERNAL, a failure while only the campaign service is
down) is a finding, and so is a single lost write. Exit status 1 if there is one.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf import field_mask_pb2

from profilematcher.matcher.v1 import matcher_service_pb2 as mpb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from services.campaigns.bootstrap import start_campaign_server
from services.campaigns.catalog_writer import catalog_to_json
from services.campaigns.demo import DEMO_GROUPS, demo_campaigns, demo_segments
from services.campaigns.settings import CampaignSettings
from services.demo.players import generate_players
from services.domain.errors import DependencyTimeout, DependencyUnavailable
from services.matcher.bootstrap import start_matcher
from services.matcher.settings import WAITING_STORE_MATCH_WORKERS, MatcherSettings
from services.profiles.import_profiles import import_profiles
from services.storage.sqlite_store import SQLiteProfileStore
from services.storage.wrapper import StoreWrapper
from services.transport.grpc_server import ServerOptions

T = TypeVar("T")

EXPECTED_WHILE_STORE_FAULTED = {"UNAVAILABLE", "DEADLINE_EXCEEDED"}


class FaultyStore(StoreWrapper[profile_pb2.Profile]):
    """The embedded store, with an outage switch: None, "hang" or "error"."""

    def __init__(self, inner: SQLiteProfileStore) -> None:
        super().__init__(inner)
        self.fault: str | None = None

    def _around(self, operation: str, call: Callable[[], T]) -> T:
        if self.fault == "hang" and operation != "close":
            time.sleep(1.0)  # longer than the matcher's store timeout in this soak
            raise DependencyTimeout("profile store did not answer in time (injected)")
        if self.fault == "error" and operation != "close":
            raise DependencyUnavailable("profile store refused the connection (injected)")
        return call()


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: Counter[tuple[str, str]] = Counter()
        self.unexpected: Counter[tuple[str, str, str]] = Counter()

    def record(self, rpc: str, status: str, phases: tuple[str, str]) -> None:
        """`phases`: the fault phase when the call started and when it ended."""
        with self.lock:
            self.by_status[(rpc, status)] += 1
            store_faulted = any(p in {"store hangs", "store errors"} for p in phases)
            if status != "OK" and not (store_faulted and status in EXPECTED_WHILE_STORE_FAULTED):
                self.unexpected[(rpc, status, "/".join(dict.fromkeys(phases)))] += 1


def write_catalog(path: Path, now: datetime, flip: bool) -> None:
    # Alternating catalogs make active_campaigns change, so write-backs keep happening.
    campaigns = demo_campaigns(now)
    chosen = campaigns[::2] if flip else campaigns
    tmp = path.with_suffix(".tmp")
    tmp.write_text(catalog_to_json(chosen, demo_segments(), DEMO_GROUPS))
    tmp.replace(path)


class Soak:
    """The system under test, the load, the faults, and the books kept on them."""

    def __init__(self, workdir: Path, players: int, clients: int) -> None:
        self.now = datetime.now(UTC)
        self.catalog = workdir / "catalog.json"
        write_catalog(self.catalog, self.now, flip=False)
        self.campaigns = start_campaign_server(self._campaign_settings(port=0))
        self.campaign_port = self.campaigns.port
        self.inner = SQLiteProfileStore.in_memory()
        docs = list(generate_players(players, seed=3))
        import_profiles(self.inner, ((i, d, None) for i, d in enumerate(docs)))
        self.ids = [str(d["player_id"]) for d in docs]
        self.store = FaultyStore(self.inner)
        self.matcher = start_matcher(
            MatcherSettings(
                server=ServerOptions(host="127.0.0.1", port=0, max_workers=16, grace_seconds=1),
                campaigns_target=f"127.0.0.1:{self.campaign_port}",
                catalog_ttl=2.0,
                campaigns_timeout=0.5,
                # The injected faults are a networked store's (hangs, refusals), so
                # matching gets the threads it has with MongoDB.
                match_workers=WAITING_STORE_MATCH_WORKERS,
                # The soak's writers carry no token; the server is its own, on loopback.
                allow_unauthenticated_writes=True,
            ),
            self.store,
        )
        self.clients = clients
        self.tally = Tally()
        self.phase = "steady"
        self.stop = threading.Event()
        # Each writer owns some players: their last acknowledged xp, and the values
        # sent since (a failed call may or may not have been applied).
        self.owner = {pid: i % clients for i, pid in enumerate(self.ids[:200])}
        self.acked: dict[str, int] = {}
        self.pending: dict[str, set[int]] = {}

    def _campaign_settings(self, port: int) -> CampaignSettings:
        return CampaignSettings(
            catalog=self.catalog, host="127.0.0.1", port=port, poll_interval=0.1, grace_seconds=0
        )

    def run(self, seconds: float) -> float:
        threads = [threading.Thread(target=self.client, args=(i,)) for i in range(self.clients)]
        threads.append(threading.Thread(target=self.faults))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        self.stop.wait(seconds)
        self.stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        self.matcher.stop(1)
        self.campaigns.stop(0)
        return elapsed

    def client(self, index: int) -> None:
        rng = random.Random(index)
        mine = [pid for pid, owner in self.owner.items() if owner == index]
        counter = 0
        with grpc.insecure_channel(f"127.0.0.1:{self.matcher.port}") as channel:
            match = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
            while not self.stop.is_set():
                roll, phase = rng.random(), self.phase
                rpc = "UpdateProfile"
                try:
                    if roll < 0.65:
                        rpc = "GetClientConfig"
                        pid = rng.choice(mine) if rng.random() < 0.5 else rng.choice(self.ids)
                        match.GetClientConfig(mpb.GetClientConfigRequest(player_id=pid), timeout=2)
                    elif roll < 0.75:
                        rpc = "BatchGetClientConfig"
                        request = mpb.BatchGetClientConfigRequest(
                            player_ids=rng.sample(self.ids, 20)
                        )
                        match.BatchGetClientConfig(request, timeout=2)
                    elif roll < 0.85:
                        rpc = "MatchProfile"
                        profile = profile_pb2.Profile(level=rng.randrange(1, 60))
                        match.MatchProfile(mpb.MatchProfileRequest(profile=profile), timeout=2)
                    else:
                        counter += 1
                        self.update(profiles, rng.choice(mine), index * 10_000_000 + counter)
                    self.tally.record(rpc, "OK", (phase, self.phase))
                except grpc.RpcError as exc:
                    self.tally.record(rpc, exc.code().name, (phase, self.phase))

    def update(
        self, profiles: profile_service_pb2_grpc.ProfileServiceStub, pid: str, xp: int
    ) -> None:
        self.pending.setdefault(pid, set()).add(xp)
        profiles.UpdateProfile(
            ppb.UpdateProfileRequest(
                profile=profile_pb2.Profile(player_id=pid, xp=xp),
                update_mask=field_mask_pb2.FieldMask(paths=["xp"]),
            ),
            timeout=2,
        )
        self.acked[pid] = xp
        self.pending[pid] = set()

    def faults(self) -> None:
        schedule = ["catalog rewrite", "campaigns down", "store hangs", "store errors"]
        step = 0
        while not self.stop.wait(2.0):
            self.phase = schedule[step % len(schedule)]
            step += 1
            if self.phase == "catalog rewrite":
                write_catalog(self.catalog, self.now, flip=step % 8 < 4)
                self.stop.wait(2.0)
            elif self.phase == "campaigns down":
                self.campaigns.stop(0)
                self.stop.wait(3.0)
                self.campaigns = start_campaign_server(self._campaign_settings(self.campaign_port))
            else:
                self.store.fault = "hang" if self.phase == "store hangs" else "error"
                self.stop.wait(2.0)
                self.store.fault = None
            self.phase = "steady"

    def lost_writes(self) -> int:
        lost = 0
        for pid, xp in self.acked.items():
            held = self.inner.get(pid)
            if held is None or (held.xp != xp and held.xp not in self.pending.get(pid, set())):
                lost += 1
        return lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        soak = Soak(Path(tmp), args.players, args.clients)
        elapsed = soak.run(args.seconds)
        lost = soak.lost_writes()
        soak.inner.close()
    tally = soak.tally
    total = sum(tally.by_status.values())
    print(
        f"# Soak ({datetime.now(UTC):%Y-%m-%d}): {elapsed:.0f} s, {args.clients} clients, "
        f"{args.players:,} players; every 2 s in turn: catalog rewrite, campaign service "
        "down 3 s, store hangs 2 s, store errors 2 s\n"
    )
    print("| RPC | status | count |")
    print("| --- | --- | ---: |")
    for (rpc, status), count in sorted(tally.by_status.items()):
        print(f"| {rpc} | {status} | {count:,} |")
    print(f"\nrequests: {total:,} ({total / elapsed:,.0f}/s)")
    print(f"acknowledged profile writes checked: {len(soak.acked)}; lost writes: {lost}")
    unexpected = sum(tally.unexpected.values())
    print(
        f"unexpected failures (anything but UNAVAILABLE/DEADLINE_EXCEEDED in a store fault): "
        f"{unexpected}"
    )
    for (rpc, status, phase), count in sorted(tally.unexpected.items()):
        print(f"  {rpc} {status} during '{phase}': {count}")
    return 1 if lost or unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
