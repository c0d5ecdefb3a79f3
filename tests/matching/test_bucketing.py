"""Bucketing: the hash against published MurmurHash3 vectors and an independent
implementation, the committed vector file, and the distribution over many players."""

from __future__ import annotations

import json
from pathlib import Path

import mmh3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.matching.bucketing import bucket, bucket_of, murmur3_32, pick, point
from tests.matching.murmur3_reference import murmur3_x86_32

VECTORS = Path(__file__).resolve().parent.parent / "data" / "bucketing_vectors.json"

# MurmurHash3_x86_32 test vectors as published (collected from SMHasher's verification
# in the StackOverflow question "MurmurHash3 test vectors"): (input, seed, hash).
PUBLISHED = [
    (b"", 0, 0),
    (b"", 1, 0x514E28B7),
    (b"", 0xFFFFFFFF, 0x81F16F39),
    (b"\xff\xff\xff\xff", 0, 0x76293B50),
    (b"\x21\x43\x65\x87", 0, 0xF55B516B),
    (b"\x21\x43\x65\x87", 0x5082EDEE, 0x2362F9DE),
    (b"\x21\x43\x65", 0, 0x7E4A8634),
    (b"\x21\x43", 0, 0xA0F7B07A),
    (b"\x21", 0, 0x72661CF4),
    (b"\x00\x00\x00\x00", 0, 0x2362F9DE),
    (b"\x00\x00\x00", 0, 0x85F0B427),
    (b"\x00\x00", 0, 0x30F4C306),
    (b"\x00", 0, 0x514E28B7),
    (b"aaaa", 0x9747B28C, 0x5A97808A),
    (b"aaa", 0x9747B28C, 0x283E0130),
    (b"aa", 0x9747B28C, 0x5D211726),
    (b"a", 0x9747B28C, 0x7FA09EA6),
    (b"abcd", 0x9747B28C, 0xF0478627),
    (b"abc", 0x9747B28C, 0xC84A62DD),
    (b"ab", 0x9747B28C, 0x74875592),
    (b"Hello, world!", 0x9747B28C, 0x24884CBA),
    ("ππππππππ".encode(), 0x9747B28C, 0xD58063C1),
    (b"a" * 256, 0x9747B28C, 0x37405BDC),
    (b"abc", 0, 0xB3DD93FA),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0, 0xEE925B90),
    (b"The quick brown fox jumps over the lazy dog", 0x9747B28C, 0x2FA826CD),
]


@pytest.mark.parametrize(("data", "seed", "expected"), PUBLISHED)
def test_published_vectors(data: bytes, seed: int, expected: int) -> None:
    assert mmh3.hash(data, seed, signed=False) == expected
    assert murmur3_x86_32(data, seed) == expected


def test_our_hash_is_murmur3_of_the_utf8_text_with_seed_zero() -> None:
    assert murmur3_32("Hello, world!") == murmur3_x86_32(b"Hello, world!")
    assert murmur3_32("ππππ") == murmur3_x86_32("ππππ".encode())


@given(st.text())
def test_hash_agrees_with_the_independent_implementation(text: str) -> None:
    assert murmur3_32(text) == murmur3_x86_32(text.encode("utf-8", "surrogatepass"))


def test_vector_file_matches_the_formulas_with_the_independent_hash() -> None:
    doc = json.loads(VECTORS.read_text(encoding="utf-8"))
    rows = doc["vectors"]
    assert len(rows) >= 30
    assert {row["player_id"] for row in rows} >= {"", "🎮", "joueur-é"}
    for row in rows:
        h = murmur3_x86_32((row["salt"] + row["player_id"]).encode())
        assert row["hash"] == h
        assert row["bucket"] == h * 100_000 // 2**32
        total = sum(row["weights"])
        assert row["point"] == h * total // 2**32
        cumulative = [sum(row["weights"][: i + 1]) for i in range(len(row["weights"]))]
        assert row["variant"] == next(i for i, c in enumerate(cumulative) if row["point"] < c)
        # And our implementation says the same.
        assert bucket(row["salt"], row["player_id"]) == row["bucket"]
        assert point(row["salt"], row["player_id"], total) == row["point"]


def test_bucket_bounds() -> None:
    assert bucket_of(0) == 0
    assert bucket_of(2**32 - 1) == 99_999


def test_pick_takes_the_first_cumulative_weight_above_the_point() -> None:
    assert [pick([50, 50], at) for at in (0, 49, 50, 99)] == [0, 0, 1, 1]
    assert [pick([0, 3, 0, 1], at) for at in (0, 2, 3)] == [1, 1, 3]
    with pytest.raises(ValueError, match="not below the total"):
        pick([1, 1], 2)


PLAYERS = [f"player-{i}" for i in range(100_000)]


def _share(salt: str, threshold: int) -> float:
    return sum(bucket(salt, p) < threshold for p in PLAYERS) / len(PLAYERS) * 100


def test_a_25_percent_rollout_lands_within_half_a_point() -> None:
    assert _share("mygame/starter_pack/rollout", 25_000) == pytest.approx(25, abs=0.5)


def test_a_5_percent_holdout_lands_within_half_a_point() -> None:
    assert _share("group/popup/holdout", 5_000) == pytest.approx(5, abs=0.5)


def test_a_50_50_split_lands_within_half_a_point() -> None:
    first = sum(point("mygame/starter_pack/variant", p, 100) < 50 for p in PLAYERS)
    assert first / len(PLAYERS) * 100 == pytest.approx(50, abs=0.5)
