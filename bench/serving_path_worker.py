"""One checkout's GetClientConfig servicer, timed per call on request (bench/serving_path.py).

bench/serving_path.py runs this file's text with another checkout's Python, in that
checkout's folder, so it imports only what every checkout has had since the embedded
store: bench.serve's names (start_bench_matcher and what it is built from) and
services.matcher.servicer.ProfileMatcherServicer. The matcher is built and started as
bench/serve.py builds it (in-memory embedded store, seeded; a real campaign service on
the catalog file given), and the servicer it built is kept when it is constructed, so
what is timed is exactly the object the server would call, with everything wired as
in production (instrumented store, catalog cache with its metrics).

    python serving_path_worker.py CATALOG PLAYERS [BATCH]

Prints "ready" and the sample player's answer, then, for every line "N" read, times
N calls of GetClientConfig for the sample player (with BATCH, of BatchGetClientConfig
for the sample player and the first BATCH - 1 others) and prints the microseconds per
call; stops at end of input.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from bench import serve as this_serve
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from services.matcher import servicer as servicer_module

# bench.serve of whichever checkout runs this: the names it imports are what is used,
# and they are not all its exports (nor typed alike in every checkout).
serve: Any = this_serve


class _Context:
    """What the servicer asks of a grpc.ServicerContext on a call that succeeds: no
    deadline, as h2load sends none."""

    def time_remaining(self) -> float | None:
        return None

    def abort(self, code: object, details: str) -> None:
        raise RuntimeError(f"GetClientConfig failed: {code} {details}")


def _capture_servicer() -> list[Any]:
    """The ProfileMatcherServicer instances constructed from now on."""
    built: list[Any] = []
    cls = servicer_module.ProfileMatcherServicer
    original = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append(self)

    cls.__init__ = init  # type: ignore[method-assign]
    return built


def main() -> None:
    catalog, players = Path(sys.argv[1]), int(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    logging.basicConfig(level=logging.WARNING)
    built = _capture_servicer()
    campaigns = serve.start_campaign_server(
        serve.CampaignSettings(catalog=catalog, host="127.0.0.1", port=0)
    )
    docs = [serve.sample_profile(), *serve.generate_players(players)]
    options = serve.ServerOptions(host="127.0.0.1", port=0, max_workers=4)
    matcher = serve.start_bench_matcher(options, campaigns, docs, 1)
    (servicer,) = built
    context = _Context()
    call: Any
    request: Any
    if batch:
        ids = [str(doc["player_id"]) for doc in docs[:batch]]
        request = pb.BatchGetClientConfigRequest(player_ids=ids)
        call = servicer.BatchGetClientConfig
        profile = call(request, context).results[0].profile
    else:
        request = pb.GetClientConfigRequest(player_id=serve.SAMPLE_PLAYER)
        call = servicer.GetClientConfig
        profile = call(request, context).profile
    del docs
    print("ready", ",".join(profile.active_campaigns), flush=True)
    perf_counter = time.perf_counter
    for line in sys.stdin:
        calls = int(line)
        start = perf_counter()
        for _ in range(calls):
            call(request, context)
        elapsed = perf_counter() - start
        print(f"{elapsed / calls * 1e6:.3f}", flush=True)
    matcher.stop(0)
    campaigns.stop(0)


if __name__ == "__main__":
    main()
