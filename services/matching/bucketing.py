"""Deterministic bucketing of players, reproducible in any language.

    h      = murmur3_x86_32(utf8(salt + player_id), seed 0), as an unsigned 32-bit integer
    bucket = (h * 100000) >> 32                       in [0, 100000)
    point  = (h * W) >> 32                            in [0, W), W the sum of the weights

This is the integer scheme of OpenFeature flagd's `fractional` (high-precision
bucketing, open-feature/flagd#1903) with 100,000 buckets for percentages, kept
compatible on purpose so that other systems can compute the same answers. The vectors
in tests/data/bucketing_vectors.json pin it down for client libraries.

Salts keep the decisions independent: a campaign's rollout and its variant split hash
the player with different salts, so who is in a 10% rollout says nothing about which
variant they get, and each group's holdout has its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import mmh3

from services.domain.experiment import BUCKETS


def murmur3_32(text: str) -> int:
    """MurmurHash3 x86 32-bit of the UTF-8 bytes of `text`, seed 0, unsigned."""
    return mmh3.hash(text, 0, signed=False)


def bucket_of(hash_value: int) -> int:
    """The bucket, in [0, 100000), of a 32-bit hash."""
    return (hash_value * BUCKETS) >> 32


def bucket(salt: str, player_id: str) -> int:
    return bucket_of(murmur3_32(salt + player_id))


def point(salt: str, player_id: str, total_weight: int) -> int:
    """(h * W) >> 32, in [0, W): where the player falls on the weights laid end to end."""
    return (murmur3_32(salt + player_id) * total_weight) >> 32


def pick(weights: Sequence[int], at: int) -> int:
    """The index of the first weight whose cumulative sum exceeds `at` (0 <= at < sum)."""
    running = 0
    for index, weight in enumerate(weights):
        running += weight
        if at < running:
            return index
    raise ValueError(f"point {at} is not below the total weight {running}")


def rollout_salt(game: str, campaign: str) -> str:
    """The default rollout salt: game + "/" + name + "/rollout"."""
    return f"{game}/{campaign}/rollout"


def variant_salt(game: str, campaign: str) -> str:
    return f"{game}/{campaign}/variant"


def holdout_salt(group: str) -> str:
    return f"group/{group}/holdout"
