"""Writes tests/data/bucketing_vectors.json: bucketing test vectors for client libraries.

    uv run python scripts/bucketing_vectors.py          # rewrite the file
    uv run python scripts/bucketing_vectors.py --check  # fail if it is not what this writes

Each vector gives a salt and a player id, the unsigned murmur3_x86_32 hash (seed 0) of
their UTF-8 concatenation, the bucket (h * 100000) >> 32, and for a list of weights the
point (h * W) >> 32 and the index of the variant it picks: the first whose cumulative
weight exceeds the point. tests/matching/test_bucketing.py checks the file against an
independent implementation of the hash.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from services.matching.bucketing import bucket_of, murmur3_32, pick

PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "bucketing_vectors.json"

SALTS = (
    "mygame/starter_pack/rollout",
    "mygame/starter_pack/variant",
    "group/popup/holdout",
    "spring-2026",
    "",
)
PLAYER_IDS = (
    "97983be2-98b7-11e7-90cf-082e5f28d836",
    "player-1",
    "player-2",
    "joueur-é",
    "玩家",
    "🎮",
    "",
    "x" * 128,
)
WEIGHTS = ([50, 50], [1, 2, 7], [0, 3, 0, 1], [25, 25, 25, 25], [2147483647])


def vectors() -> dict[str, Any]:
    rows = []
    for i, salt in enumerate(SALTS):
        for j, player_id in enumerate(PLAYER_IDS):
            weights = WEIGHTS[(i + j) % len(WEIGHTS)]
            h = murmur3_32(salt + player_id)
            at = (h * sum(weights)) >> 32
            rows.append(
                {
                    "salt": salt,
                    "player_id": player_id,
                    "hash": h,
                    "bucket": bucket_of(h),
                    "weights": weights,
                    "point": at,
                    "variant": pick(weights, at),
                }
            )
    return {
        "description": (
            "hash = murmur3_x86_32(utf8(salt + player_id), seed 0), unsigned; "
            "bucket = (hash * 100000) >> 32; point = (hash * sum(weights)) >> 32; "
            "variant = index of the first weight whose cumulative sum exceeds point"
        ),
        "vectors": rows,
    }


def render() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if PATH.read_text(encoding="utf-8") != text:
            print(f"{PATH} is stale: run scripts/bucketing_vectors.py", file=sys.stderr)
            return 1
        return 0
    PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
