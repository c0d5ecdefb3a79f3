"""Generated profiles and campaign conditions for audience counts.

Profiles draw from a small vocabulary so conditions hit them often: few levels, a few
country spellings, two items, one or two devices, custom fields that are sometimes
null, a number, a string or a list. Times are whole seconds (MongoDB keeps
milliseconds; the embedded store more). Conditions are MongoDB query documents over
those fields, nested through `$and`/`$or`/`$nor`/`$not`/`$elemMatch`, with now and then a
clause no store can evaluate (`context.`, a version comparison).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from services.domain.profile import Clan, Device, Profile

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LEVELS = st.integers(min_value=0, max_value=4)
COUNTRIES = ("US", "us", "RO", "CA")
ITEMS = ("a", "b")
MODELS = ("pixel", "iphone")
WORDS = ("x", "y")
times = st.integers(min_value=-3, max_value=3).map(lambda days: NOW + timedelta(days=days))


@st.composite
def profiles(draw: st.DrawFn, index: int = 0) -> Profile:
    custom: dict[str, Any] = {}
    tier = draw(st.sampled_from(("absent", "null", "int", "str", "list")))
    if tier != "absent":
        custom["_tier"] = {
            "null": None,
            "int": draw(st.integers(0, 3)),
            "str": draw(st.sampled_from(WORDS)),
            "list": draw(st.lists(st.integers(0, 3), max_size=3)),
        }[tier]
    if draw(st.booleans()):
        custom["_tags"] = draw(st.lists(st.sampled_from(WORDS), max_size=3))
    devices = draw(
        st.one_of(
            st.none(),
            st.lists(
                st.builds(Device, id=st.integers(0, 2), model=st.sampled_from(MODELS)),
                min_size=1,
                max_size=2,
            ).map(tuple),
        )
    )
    return Profile(
        player_id=f"p{index}-{draw(st.integers(0, 10**6))}",
        level=draw(st.none() | LEVELS),
        country=draw(st.none() | st.sampled_from(COUNTRIES)),
        total_spent=draw(st.none() | st.sampled_from((0.0, 1.5, 3.0))),
        created=draw(st.none() | times),
        inventory=draw(st.dictionaries(st.sampled_from(ITEMS), st.integers(0, 2), max_size=2)),
        devices=devices,
        clan=draw(st.none() | st.builds(Clan, id=st.sampled_from(("c1", "c2")))),
        custom_fields=custom,
    )


profile_lists = st.integers(0, 10**6).flatmap(
    lambda seed: st.lists(profiles(seed), min_size=2, max_size=12, unique_by=lambda p: p.player_id)
)

_COMPARE = st.sampled_from(("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"))
# No booleans: mongomock compares with Python's equality, where True == 1, and so
# finds `{"_tier": true}` in `[1]`; MongoDB (and the engine) keep the types apart.
_scalars = st.one_of(st.none(), LEVELS, st.sampled_from((1.5, "x", "US")))


def _time_operand() -> st.SearchStrategy[Any]:
    return st.one_of(
        times.map(lambda t: {"$date": t.isoformat().replace("+00:00", "Z")}),
        st.integers(1, 3).map(lambda days: {"$ago": f"{days}d"}),
    )


def _operators(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    single = st.one_of(
        st.tuples(_COMPARE, values),
        st.tuples(st.sampled_from(("$in", "$nin")), st.lists(values, min_size=1, max_size=3)),
        st.tuples(st.just("$exists"), st.booleans()),
    )
    return st.lists(single, min_size=1, max_size=2).map(dict)


def _field_clauses() -> st.SearchStrategy[dict[str, Any]]:
    mixed = st.one_of(_scalars, LEVELS)
    return st.one_of(
        st.builds(lambda v: {"level": v}, mixed),
        st.builds(lambda ops: {"level": ops}, _operators(mixed)),
        st.builds(lambda ops: {"level": {"$not": ops}}, _operators(LEVELS)),
        st.builds(lambda v: {"country": v}, st.sampled_from(COUNTRIES)),
        st.builds(lambda ops: {"country": ops}, _operators(st.sampled_from(COUNTRIES))),
        st.builds(lambda ops: {"total_spent": ops}, _operators(st.sampled_from((0, 1.5, 2)))),
        st.builds(
            lambda op, t: {"created": {op: t}}, st.sampled_from(("$gt", "$lte")), _time_operand()
        ),
        st.builds(lambda item: {f"inventory.{item}": {"$gt": 0}}, st.sampled_from(ITEMS)),
        st.builds(lambda item: {f"inventory.{item}": {"$not": {"$gt": 0}}}, st.sampled_from(ITEMS)),
        st.builds(lambda m: {"devices.model": m}, st.sampled_from(MODELS)),
        st.builds(
            lambda m, i: {"devices": {"$elemMatch": {"model": m, "id": {"$gte": i}}}},
            st.sampled_from(MODELS),
            st.integers(0, 2),
        ),
        st.builds(lambda c: {"clan.id": c}, st.sampled_from(("c1", "c2"))),
        st.builds(lambda v: {"_tier": v}, _scalars),
        st.builds(lambda ops: {"_tier": ops}, _operators(_scalars)),
        st.builds(lambda w: {"_tags": w}, st.sampled_from(WORDS)),
        st.builds(lambda w: {"_tags": {"$elemMatch": {"$eq": w}}}, st.sampled_from(WORDS)),
        # Beyond any store: the request's context and semantic versions.
        st.just({"context.platform": "ios"}),
        st.just({"_tier": {"$vgte": "1.2.0"}}),
    )


def _documents(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    logical = st.builds(
        lambda op, docs: {op: docs},
        st.sampled_from(("$and", "$or", "$nor")),
        st.lists(children, min_size=1, max_size=3),
    )
    return st.lists(st.one_of(_field_clauses(), logical), max_size=3).map(_merged)


def _merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One query document from clauses; a clause whose key is taken is left out."""
    doc: dict[str, Any] = {}
    for part in parts:
        if not doc.keys() & part.keys():
            doc.update(part)
    return doc


conditions = st.recursive(_field_clauses(), _documents, max_leaves=6)
