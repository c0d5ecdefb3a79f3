"""Which paths a condition may use, and what a path reaches (MongoDB's ElementPath).

The traversal vectors restate, in our terms, the cases of MongoDB's own
`src/mongo/db/matcher/path_test.cpp` (BSONElementIterator): what a path yields, in
order, MISSING standing for the EOO element it yields where nothing is found.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.domain.conditions import ConditionError, parse_condition
from services.domain.conditions.traversal import values_at
from services.domain.conditions.values import MISSING


@pytest.mark.parametrize(
    ("path", "doc", "expected"),
    [
        # Root1, RootArray1: a leaf array yields its elements, then itself.
        ("a", {"x": 4, "a": 5}, [5]),
        ("a", {"x": 4, "a": [5, 6]}, [5, 6, [5, 6]]),
        # Nested1: objects in an array are searched, a missing key yields EOO, scalars
        # are skipped, a leaf array inside is expanded.
        (
            "a.b",
            {"a": [{"b": 5}, 3, {}, {"b": [9, 11]}, {"b": 7}]},
            [5, MISSING, 9, 11, [9, 11], 7],
        ),
        # NestedPartialMatchScalar / NestedPartialMatchArray.
        ("a.b", {"a": 4}, [MISSING]),
        ("a.b", {"a": [4]}, []),
        # NestedEmptyArray.
        ("a.b", {"a": {"b": []}}, [[]]),
        # ArrayIndex1-3: a numeric part selects a position; an array there is not
        # expanded; an object element is also searched for the key "1".
        ("a.1", {"a": [5, 7, 3]}, [7]),
        ("a.1", {"a": [5, [2, 4], 3]}, [[2, 4]]),
        ("a.1", {"a": [5, {"1": 4}, 3]}, [4, {"1": 4}]),
        # ArrayIndexNested1-2.
        ("a.1.b", {"a": [5, {"b": 4}, 3]}, [MISSING, 4]),
        ("a.1.b", {"a": [5, [{"b": 4}], 3]}, [4]),
        # NestedArrayImplicitTraversal.
        ("a.b", {"a": [{"b": [2, 3]}, {"b": [4, 5]}]}, [2, 3, [2, 3], 4, 5, [4, 5]]),
        # ArrayOffsetWithImplicitAndExplicitTraversal.
        ("a.0.b", {"a": [{"b": [2, 3]}, {"b": [4, 5]}]}, [MISSING, 2, 3, [2, 3], MISSING]),
        # Missing all the way.
        ("a.b.c", {}, [MISSING]),
    ],
)
def test_values_a_path_reaches(path: str, doc: dict[str, Any], expected: list[Any]) -> None:
    assert values_at(doc, tuple(path.split("."))) == expected


def test_elem_match_takes_leaf_arrays_whole() -> None:
    # NestedNoLeaf1.
    doc = {"a": [{"b": 5}, 3, {}, {"b": [9, 11]}, {"b": 7}]}
    assert values_at(doc, ("a", "b"), expand=False) == [5, MISSING, [9, 11], 7]
    assert values_at({"a": [5, 6]}, ("a",), expand=False) == [[5, 6]]


@pytest.mark.parametrize(
    "path",
    [
        "level",
        "total_spent",
        "created",
        "last_purchase",
        "player_id",
        "clan",
        "clan.id",
        "clan.name",
        "devices",
        "devices.model",
        "devices.carrier",
        "devices.firmware",
        "devices.id",
        "inventory",
        "inventory.item_1",
        "inventory.sword.of.fire",
        "_custom",
        "_custom.deep.0.path",
        "context.platform",
        "context.ab.bucket",
    ],
)
def test_allowed_paths(path: str) -> None:
    assert parse_condition({path: 1}).paths == {path}


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("lvl", "unknown field 'lvl'"),
        ("credential", "credential is a secret"),
        ("active_campaigns", "active_campaigns is what matching computes"),
        ("level.x", "'level' has no field 'x' (sub-fields: none)"),
        ("clan.tag", "'clan' has no field 'tag' (sub-fields: one of id, name)"),
        ("devices.os", "'devices' has no field 'os'"),
        ("devices.0.model", "'devices' has no field '0.model'"),
        ("context", "'context' needs a key"),
        ("context.", "has an empty part"),
        ("context.a..b", "has an empty part"),
        ("context.$x", "must not start with '$'"),
        ("_", "'_' is not a custom field name"),
        ("_id", "'_id' is not a custom field name"),
        ("_a.$b", "must not start with '$'"),
        ("", "a path must not be empty"),
        (".level", "has an empty part"),
        ("inventory.", "has an empty part"),
        ("level\0", "must not contain NUL"),
        ("_x\ud800", "valid Unicode"),
    ],
)
def test_refused_paths_are_named(path: str, problem: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition({"$or": [{"level": 1}, {path: 1}]})
    assert caught.value.clause == f"where.$or[1].{path}"
    assert problem in caught.value.problem


def test_element_paths_inside_elem_match() -> None:
    parse_condition({"devices": {"$elemMatch": {"model": "x", "firmware": {"$vgte": "14"}}}})
    with pytest.raises(ConditionError) as caught:
        parse_condition({"devices": {"$elemMatch": {"os": "x"}}})
    assert caught.value.clause == "where.devices.$elemMatch.os"
    assert "element fields: carrier, firmware, id, model" in caught.value.problem
    parse_condition({"_orders": {"$elemMatch": {"sku.id": "a", "qty": {"$gt": 1}}}})
    for path in ("level", "clan", "inventory", "devices.model", "clan.id"):
        with pytest.raises(ConditionError, match="applies to arrays"):
            parse_condition({path: {"$elemMatch": {"$gt": 1}}})
