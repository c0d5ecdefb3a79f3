"""Each operator under MongoDB's rules: missing fields, arrays, type brackets, null."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.matching.conditions.helpers import NOW, holds, matching

# One of each bracket, and the missing field.
DOCS: list[dict[str, Any]] = [
    {"_v": 5},  # 0
    {"_v": 5.0},  # 1
    {"_v": "5"},  # 2
    {"_v": True},  # 3
    {"_v": None},  # 4
    {},  # 5
    {"_v": [1, 5, 9]},  # 6
    {"_v": datetime(2024, 1, 1, tzinfo=UTC)},  # 7
    {"_v": {"a": 5}},  # 8
    {"_v": []},  # 9
]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"_v": 5}, [0, 1, 6]),
        ({"_v": {"$eq": 5}}, [0, 1, 6]),
        ({"_v": {"$ne": 5}}, [2, 3, 4, 5, 7, 8, 9]),
        ({"_v": {"$gt": 4}}, [0, 1, 6]),
        ({"_v": {"$gte": 9}}, [6]),
        ({"_v": {"$lt": 2}}, [6]),
        ({"_v": {"$lte": 5}}, [0, 1, 6]),
        ({"_v": {"$gt": "4"}}, [2]),
        ({"_v": True}, [3]),
        ({"_v": 1}, [6]),
        ({"_v": {"$gt": False}}, [3]),
        ({"_v": None}, [4, 5]),
        ({"_v": {"$ne": None}}, [0, 1, 2, 3, 6, 7, 8, 9]),
        ({"_v": {"$gte": None}}, [4, 5]),
        ({"_v": {"$lte": None}}, [4, 5]),
        ({"_v": {"$gt": None}}, []),
        ({"_v": {"$lt": None}}, []),
        ({"_v": {"$in": [5, "x"]}}, [0, 1, 6]),
        ({"_v": {"$in": [None, "5"]}}, [2, 4, 5]),
        ({"_v": {"$in": []}}, []),
        ({"_v": {"$nin": [5, None]}}, [2, 3, 7, 8, 9]),
        ({"_v": {"$nin": []}}, list(range(10))),
        ({"_v": {"$exists": True}}, [0, 1, 2, 3, 4, 6, 7, 8, 9]),
        ({"_v": {"$exists": False}}, [5]),
        ({"_v": [1, 5, 9]}, [6]),
        ({"_v": [5, 1, 9]}, []),
        ({"_v": []}, [9]),
        ({"_v": {"a": 5}}, [8]),
        ({"_v": {"a": 5.0}}, [8]),
        ({"_v": {"$gt": {"$date": "2023-12-31T00:00:00Z"}}}, [7]),
        ({"_v": {"$gt": "2023-12-31T00:00:00Z"}}, [2]),
        ({"_v": {"$gt": 1, "$lt": 9}}, [0, 1, 6]),
        ({"_v": {"$gt": 6, "$lt": 4}}, [6]),
    ],
)
def test_operators_on_each_bracket(where: dict[str, Any], expected: list[int]) -> None:
    assert matching(where, DOCS) == expected


def test_not_negates_the_tests_together_and_takes_missing() -> None:
    where = {"_v": {"$not": {"$gt": 4, "$lt": 6}}}
    assert matching(where, DOCS) == [2, 3, 4, 5, 7, 8, 9]
    # $not of $gt is not $lte: missing and other types pass it.
    assert matching({"_v": {"$not": {"$gt": 4}}}, DOCS) == [2, 3, 4, 5, 7, 8, 9]


def test_any_element_of_an_array_decides() -> None:
    assert holds({"_v": {"$gt": 8, "$lt": 2}}, {"_v": [1, 9]})
    assert not holds({"_v": {"$elemMatch": {"$gt": 8, "$lt": 2}}}, {"_v": [1, 9]})
    assert holds({"_v": {"$elemMatch": {"$gt": 1, "$lt": 9}}}, {"_v": [1, 5, 9]})
    assert not holds({"_v": {"$ne": 9}}, {"_v": [1, 9]})
    assert holds({"_v": {"$nin": [2]}}, {"_v": [1, 9]})


def test_arrays_nested_in_arrays_are_not_flattened() -> None:
    assert not holds({"_v": 1}, {"_v": [[1, 2], 3]})
    assert holds({"_v": [1, 2]}, {"_v": [[1, 2], 3]})


def test_objects_compare_key_by_key_in_order() -> None:
    assert holds({"clan": {"id": "c1", "name": "Wolves"}}, {"clan": {"id": "c1", "name": "Wolves"}})
    assert not holds(
        {"clan": {"name": "Wolves", "id": "c1"}}, {"clan": {"id": "c1", "name": "Wolves"}}
    )
    assert not holds({"clan": {"id": "c1"}}, {"clan": {"id": "c1", "name": "Wolves"}})
    assert holds({"clan": {"$gt": {"id": "c1"}}}, {"clan": {"id": "c1", "name": "Wolves"}})


def test_dotted_paths_read_into_objects_and_arrays_of_objects() -> None:
    profile = {
        "clan": {"id": "c1", "name": "Wolves"},
        "devices": [
            {"id": 1, "model": "iPhone 12", "carrier": "att", "firmware": "17.1"},
            {"id": 2, "model": "Pixel 8", "carrier": "tmo", "firmware": "14"},
        ],
        "inventory": {"item_1": 2, "item_2": 0},
    }
    assert holds({"clan.id": "c1"}, profile)
    assert holds({"devices.model": "Pixel 8"}, profile)
    assert holds({"devices.model": "iPhone 12", "devices.carrier": "tmo"}, profile)
    assert not holds({"devices": {"$elemMatch": {"model": "iPhone 12", "carrier": "tmo"}}}, profile)
    assert holds({"devices": {"$elemMatch": {"model": "Pixel 8", "id": {"$gte": 2}}}}, profile)
    assert holds({"inventory.item_1": {"$gt": 0}}, profile)
    assert holds({"inventory.item_2": {"$not": {"$gt": 0}}}, profile)
    assert holds({"inventory.item_9": {"$not": {"$gt": 0}}}, profile)
    assert not holds({"inventory.item_9": {"$gt": 0}}, profile)
    assert holds({"devices.model": {"$ne": "Galaxy"}}, profile)
    assert not holds({"devices.id": {"$ne": 2}}, profile)


def test_elem_match_wants_arrays_and_reads_object_elements() -> None:
    assert not holds({"_v": {"$elemMatch": {"$gt": 0}}}, {"_v": 5})
    assert not holds({"_v": {"$elemMatch": {"a": 1}}}, {"_v": [1, 2]})
    assert holds({"_v": {"$elemMatch": {"a": 1}}}, {"_v": [1, {"a": 1}]})
    assert holds({"_v": {"$elemMatch": {"$or": [{"a": 1}, {"b": 2}]}}}, {"_v": [{"b": 2}]})
    # An array element is queried as the object BSON stores it as: keys "0", "1"...
    assert holds({"_v": {"$elemMatch": {"0": 7}}}, {"_v": [[7, 8]]})
    assert holds({"_v": {"$elemMatch": {}}}, {"_v": [1, {"z": 0}]})
    assert not holds({"_v": {"$elemMatch": {}}}, {"_v": [1, 2]})
    assert holds({"_v": {"$elemMatch": {"$not": {"$gt": 3}}}}, {"_v": [9, 2]})
    assert holds({"_v": {"$elemMatch": {"$elemMatch": {"$eq": 3}}}}, {"_v": [[1], [3]]})


def test_logical_operators() -> None:
    profile = {"level": 5, "country": "US"}
    assert holds({"$and": [{"level": 5}, {"country": "US"}]}, profile)
    assert holds({"$or": [{"level": 6}, {"country": "US"}]}, profile)
    assert not holds({"$or": [{"level": 6}, {"country": "DE"}]}, profile)
    assert holds({"$nor": [{"level": 6}, {"country": "DE"}]}, profile)
    assert not holds({"$nor": [{"level": 6}, {"country": "US"}]}, profile)
    assert holds({}, profile)


def test_ago_is_relative_to_the_moment_of_the_match() -> None:
    profile = {"created": NOW - timedelta(days=10), "last_purchase": NOW - timedelta(hours=2)}
    assert holds({"created": {"$gte": {"$ago": "14d"}}}, profile)
    assert not holds({"created": {"$gte": {"$ago": "7d"}}}, profile)
    assert holds({"last_purchase": {"$lt": {"$ago": "90m"}}}, profile)
    assert holds({"last_purchase": {"$gt": {"$ago": "7201s"}}}, profile)
    assert not holds({"last_purchase": {"$gt": {"$ago": "7200s"}}}, profile)
    later = NOW + timedelta(days=5)
    assert not holds({"created": {"$gte": {"$ago": "14d"}}}, profile, now=later)


def test_a_naive_now_is_utc() -> None:
    profile = {"created": NOW - timedelta(days=10)}
    naive = NOW.replace(tzinfo=None)
    assert holds({"created": {"$gte": {"$ago": "10d"}}}, profile, now=naive)
    assert not holds({"created": {"$gt": {"$ago": "10d"}}}, profile, now=naive)
    # Before year 1 is before every time a profile holds.
    assert holds({"created": {"$gt": {"$ago": "1s"}}}, profile, now=datetime(1, 1, 1))


def test_times_compare_as_instants_whatever_the_zone() -> None:
    elsewhere = datetime(2024, 1, 1, 4, tzinfo=timezone(timedelta(hours=2)))
    profile = {"created": elsewhere}
    assert holds({"created": {"$date": "2024-01-01T02:00:00Z"}}, profile)
    assert holds({"created": {"$date": "2024-01-01 02:00:00Z"}}, profile)
    assert holds({"created": {"$date": {"$numberLong": "1704074400000"}}}, profile)
    # A naive time in a profile is read as UTC, as pymongo writes it.
    assert holds(
        {"created": {"$date": "2024-01-01T02:00:00Z"}}, {"created": datetime(2024, 1, 1, 2)}
    )


def test_nan_in_a_profile_equals_and_orders_against_nothing() -> None:
    nan = float("nan")
    for where in ({"_v": 1}, {"_v": {"$gt": 1}}, {"_v": {"$lt": 1}}, {"_v": {"$in": [1]}}):
        assert not holds(where, {"_v": nan})
    assert holds({"_v": {"$ne": 1}}, {"_v": nan})


def test_context_is_read_like_a_document() -> None:
    assert holds({"context.platform": "ios"}, {}, {"platform": "ios"})
    assert not holds({"context.platform": "ios"}, {}, {"platform": "android"})
    assert holds({"context.platform": {"$ne": "ios"}}, {}, {})
    assert holds({"context.ab.bucket": {"$lt": 50}}, {}, {"ab": {"bucket": 12}})
    assert holds({"context.tags": "beta"}, {}, {"tags": ["beta", "vip"]})


def test_a_lazy_mapping_is_asked_only_for_the_keys_read() -> None:
    class Lazy(dict[str, Any]):
        asked: list[str]

        def get(self, key: str, default: Any = None) -> Any:
            self.asked.append(key)
            return super().get(key, default)

    profile = Lazy(level=5, country="US", clan={"id": "c"})
    profile.asked = []
    holds({"level": {"$gte": 3}, "clan.id": "c"}, profile)
    assert set(profile.asked) == {"level", "clan"}
