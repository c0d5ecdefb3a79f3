"""Hypothesis strategies for stored profiles and the conditions over them.

Small pools of values that collide on purpose (the same numbers as ints and floats,
strings that are also versions, times a day apart around NOW, `$ago` landing on them),
so that comparisons sit on their edges, arrays hold both matching and failing
elements, and fields are often missing or null.

`wide=True` adds what mongomock gets wrong (test_mongomock_divergences.py lists each
case against MongoDB's own behaviour): booleans beside numbers, objects with keys in
another order, scalars and arrays of arrays where a path goes deeper, numeric path parts,
`$gte`/`$lte` null, `$elemMatch: {}`. The reference and compiled evaluators are compared
on those too; mongomock only on the rest.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from tests.matching.conditions.helpers import NOW

# Whole milliseconds, as BSON keeps them.
INSTANTS = tuple(NOW - timedelta(days=days) for days in (0, 1, 7, 14, 30))
VERSIONS = ("1.2", "1.2.0", "v2", "2.0.0-beta.1", "2.0.0", "10.1.0")


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def scalars(wide: bool) -> st.SearchStrategy[Any]:
    pool: list[Any] = [0, 1, 2, 2.0, 2.5, 5, "US", "us", "c1", "m1", "", *VERSIONS, None]
    if wide:
        pool += [True, False]
    return st.sampled_from(pool) | st.sampled_from(INSTANTS)


def values(wide: bool) -> st.SearchStrategy[Any]:
    leaf = scalars(wide)
    arrays = st.lists(leaf, max_size=3)
    if wide:
        arrays = st.lists(leaf | st.lists(leaf, max_size=2), max_size=3)
    return leaf | arrays


def _objects(wide: bool) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={"a": values(wide), "b": scalars(wide)}).map(
        lambda found: dict(sorted(found.items()))
    )


@st.composite
def profiles(draw: st.DrawFn, wide: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {}

    def maybe(key: str, strategy: st.SearchStrategy[Any]) -> None:
        if draw(st.integers(0, 9)) < 7:
            doc[key] = draw(strategy)

    levels: st.SearchStrategy[Any] = st.integers(0, 5)
    if wide:
        levels = levels | st.sampled_from([2.5, "3", True, None])
    maybe("level", levels)
    maybe("country", st.sampled_from(["US", "us", "DE", None]))
    maybe("total_spent", st.sampled_from([0.0, 4.99, 10, 2]))
    maybe("created", st.sampled_from(INSTANTS))
    # Keys in the stored order (hypothesis may draw a fixed dictionary's keys in any).
    clans = st.fixed_dictionaries(
        {"id": st.sampled_from(["c1", "c2"]), "name": st.sampled_from(["A", "B"])}
    ).map(lambda clan: {"id": clan["id"], "name": clan["name"]})
    if wide:
        clans = clans | clans.map(lambda clan: dict(reversed(clan.items())))
    maybe("clan", clans)
    device = st.fixed_dictionaries(
        {
            "id": st.integers(1, 3),
            "model": st.sampled_from(["m1", "m2"]),
            "carrier": st.sampled_from(["x", "y"]),
            "firmware": st.sampled_from(VERSIONS),
        }
    )
    maybe("devices", st.lists(device, max_size=3))
    maybe("inventory", st.dictionaries(st.sampled_from(["i1", "i2"]), st.integers(0, 2)))
    maybe("_v", values(wide))
    others: st.SearchStrategy[Any] = _objects(wide) | st.lists(_objects(wide), max_size=3)
    if wide:
        others = others | values(wide)
    maybe("_o", others)
    return doc


contexts = st.fixed_dictionaries({}, optional={"k": scalars(False), "v": st.sampled_from(VERSIONS)})

# Fields that hold arrays come up more often: that is where the rules differ most.
_PATHS = (
    "_v",
    "_o.a",
    "devices.model",
    "level",
    "country",
    "total_spent",
    "created",
    "clan",
    "clan.id",
    "devices.model",
    "devices.id",
    "devices.firmware",
    "inventory.i1",
    "_v",
    "_o",
    "_o.a",
    "_o.b",
    "context.k",
    "context.v",
)
_WIDE_PATHS = ("_v.1", "_o.0.a", "_o.a.0", "_o.1")


# The values each field holds, so that most comparisons can go either way.
_TYPICAL: dict[str, tuple[Any, ...]] = {
    "level": (0, 1, 2, 3, 4, 5, 2.0),
    "country": ("US", "us", "DE"),
    "total_spent": (0, 2, 4.99, 10.0),
    "clan.id": ("c1", "c2"),
    "devices.model": ("m1", "m2"),
    "devices.id": (1, 2, 3),
    "devices.firmware": VERSIONS,
    "inventory.i1": (0, 1, 2),
    "context.v": VERSIONS,
    "_v": (1, 5, "US", [1, 5], [], ["US", "c1"], None, 2.5),
    "_o.a": (1, 2, 5, [2, 5], "m1", [0, 2.5], None),
}


@st.composite
def operands(draw: st.DrawFn, wide: bool, allow_ago: bool = True, path: str = "") -> Any:
    """A value as a condition writes it: times as $date or $ago; usually one the field
    holds, sometimes any (other types included)."""
    typical = _TYPICAL.get(path)
    if typical and draw(st.integers(0, 2)):
        return draw(st.sampled_from(typical))
    if path == "created" and allow_ago and draw(st.integers(0, 3)):
        return draw(st.sampled_from([{"$ago": "7d"}, {"$ago": "14d"}, {"$ago": "1d"}]))
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return {"$date": _iso(draw(st.sampled_from(INSTANTS)))}
    if choice == 1 and allow_ago:
        return {"$ago": draw(st.sampled_from(["0s", "1d", "24h", "7d", "14d", "20d"]))}
    if choice == 2:
        return draw(st.lists(_plain(wide), max_size=2))
    if choice == 3:
        clan = {"id": draw(st.sampled_from(["c1", "c2"])), "name": "A"}
        if wide and draw(st.booleans()):
            return dict(reversed(clan.items()))
        return clan if draw(st.booleans()) else {"a": draw(_plain(wide))}
    if choice == 4:
        return None
    return draw(_plain(wide))


def _plain(wide: bool) -> st.SearchStrategy[Any]:
    return scalars(wide).filter(_plain_json)


def _plain_json(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


@st.composite
def operator_documents(draw: st.DrawFn, wide: bool, path: str, depth: int) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    # mongomock reads two operators on one dotted path through an array of objects as
    # if one element had to pass both; MongoDB tests each on its own.
    for _ in range(draw(st.integers(1, 2 if wide or "." not in path else 1))):
        kind = draw(st.integers(0, 9))
        if kind <= 3 or kind == 7:
            operator = draw(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]))
            operand = draw(operands(wide, path=path))
            if operand is None and operator in ("$gte", "$lte") and not wide:
                operator = "$eq"
            ops[operator] = operand
        elif kind == 4:
            ops[draw(st.sampled_from(["$in", "$nin"]))] = draw(_in_lists(wide, path))
        elif kind == 5:
            # mongomock reads `$exists: false` through arrays of objects as "some
            # element lacks the key"; MongoDB as "no element has it".
            ops["$exists"] = draw(st.booleans()) if wide or "." not in path else True
        elif kind == 6 and depth < 2 and (wide or "." not in path):
            # mongomock's $not fails where a path crosses an empty array.
            ops["$not"] = draw(operator_documents(wide, path, depth + 1))
        elif kind == 7 and path in ("devices.firmware", "context.v", "_v"):
            ops[draw(st.sampled_from(["$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"]))] = draw(
                st.sampled_from(VERSIONS)
            )
        elif kind == 8 and path in ("_v", "_o", "context.k") and depth < 2:
            if path == "_o" or (wide and draw(st.booleans())):
                query = draw(queries(wide, depth + 1, ("a", "b")))
                if query or wide:
                    ops["$elemMatch"] = query
            else:
                ops["$elemMatch"] = draw(operator_documents(wide, path, depth + 1))
        else:
            ops["$in"] = draw(_in_lists(wide, path))
    return ops


def _in_lists(wide: bool, path: str) -> st.SearchStrategy[list[Any]]:
    values = operands(wide, allow_ago=False, path=path)
    if not wide:
        # mongomock's $in never compares an array value with a whole array.
        values = values.filter(lambda value: not isinstance(value, list))
    return st.lists(values, max_size=3)


@st.composite
def queries(
    draw: st.DrawFn, wide: bool, depth: int = 0, paths: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A query document; `paths` narrows the fields (inside $elemMatch)."""
    available = paths or (_PATHS + _WIDE_PATHS if wide else _PATHS)
    query: dict[str, Any] = {}
    for _ in range(draw(st.integers(0 if depth else 1, 2))):
        kind = draw(st.integers(0, 9))
        if kind >= 8 and depth < 2:
            operator = draw(st.sampled_from(["$and", "$or", "$nor"]))
            children = draw(st.lists(queries(wide, depth + 1, paths), min_size=1, max_size=3))
            query[operator] = children
            continue
        path = draw(st.sampled_from(available))
        if path == "devices.model" and draw(st.booleans()) and paths is None:
            element: dict[str, Any] = {"model": draw(st.sampled_from(["m1", "m2"]))}
            element["id"] = {"$gte": draw(st.integers(1, 3))}
            query["devices"] = {"$elemMatch": element}
        elif kind <= 3:
            query[path] = draw(operands(wide, path=path))
        else:
            query[path] = draw(operator_documents(wide, path, depth))
    return query


def corpus(wide: bool) -> list[dict[str, Any]]:
    """Fixed profiles that, between them, hold every pooled value of every field in
    varied company: each example's condition is tried on all of them, so a difference
    at an edge (a level equal to the operand, a time equal to `$ago`) always shows."""
    missing = object()
    devices = [
        {"id": 1, "model": "m1", "carrier": "x", "firmware": "1.2"},
        {"id": 2, "model": "m2", "carrier": "y", "firmware": "2.0.0-beta.1"},
        {"id": 3, "model": "m1", "carrier": "y", "firmware": "v2"},
    ]
    scalar_pool: list[Any] = [0, 1, 2, 2.0, 2.5, 5, "US", "us", "c1", "m1", "", *VERSIONS]
    scalar_pool += [None, *INSTANTS]
    pools: dict[str, list[Any]] = {
        "level": [0, 1, 2, 3, 4, 5, missing],
        "country": ["US", "us", "DE", None, missing],
        "total_spent": [0.0, 4.99, 10, 2, missing],
        "created": [*INSTANTS, missing],
        "clan": [{"id": "c1", "name": "A"}, {"id": "c2", "name": "B"}, missing],
        "devices": [[], [devices[0]], devices[:2], devices[1:], missing],
        "inventory": [{}, {"i1": 0}, {"i1": 1, "i2": 2}, {"i1": 2}, missing],
        "_v": [
            *scalar_pool,
            [1, 5],
            [5],
            [2.5, "US"],
            ["US", "c1"],
            [None, 1],
            [INSTANTS[1], 2],
            ["1.2", "v2"],
            [],
            missing,
        ],
        "_o": [
            {"a": 1, "b": "c1"},
            {"a": [2, 5]},
            [{"a": 1}, {"b": 2}],
            [{"a": "m1", "b": None}, {"a": [0, 2.5]}],
            {"b": INSTANTS[2]},
            [],
            missing,
        ],
    }
    if wide:
        pools["level"] += [2.5, "3", True, None]
        pools["clan"].append({"name": "A", "id": "c1"})
        pools["_v"] += [True, False, [[1, 2], 3], [True, 1]]
        pools["_o"] += [5, [[{"a": 1}]], [{"0": 1}, 7], {"a": {"0": 2}}]
    # Each field steps through its pool with its own stride, prime to the pool's size
    # so that every value comes up, in company that changes from doc to doc.
    strides = {}
    for order, (field, pool) in enumerate(pools.items(), start=1):
        stride = order
        while math.gcd(stride, len(pool)) != 1:
            stride += 1
        strides[field] = stride
    docs = []
    for index in range(80):
        doc: dict[str, Any] = {}
        for field, pool in pools.items():
            value = pool[(index * strides[field] + len(doc)) % len(pool)]
            if value is not missing:
                doc[field] = value
        docs.append(doc)
    return docs


WIDE_QUERIES = queries(wide=True)
