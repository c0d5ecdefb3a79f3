"""The indexes of a collection in the previous layout as the migration recreates them on
the copy, and the index it reads the profiles through in player id order.

listIndexes describes an index as the server keeps it, which is not always what
createIndexes takes: a text index is listed with the internal key `{_fts: "text",
_ftsx: 1}` (between any prefix and suffix fields) and its fields in `weights`; `v`
(and `ns`, before MongoDB 4.4) say how and where it is stored; a key listed by an old
shell can be a double, which pymongo refuses. So each index is rebuilt as createIndex
takes one: its fields (a text index's from `weights`), its name, and the options
db.collection.createIndex documents. Anything else listed is left out, and named so
the migration can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import IndexModel

from services.storage.mongo_layout import is_player_id_index

# The options db.collection.createIndex documents (MongoDB 7.0 and 8.0 manuals): for
# any index, then for text, 2dsphere, 2d and wildcard ones. Versions are kept, so the
# copy's index behaves as the original does.
CREATE_INDEX_OPTIONS = frozenset(
    {
        "unique",
        "sparse",
        "partialFilterExpression",
        "expireAfterSeconds",
        "hidden",
        "collation",
        "storageEngine",
        "weights",
        "default_language",
        "language_override",
        "textIndexVersion",
        "2dsphereIndexVersion",
        "bits",
        "min",
        "max",
        "wildcardProjection",
    }
)
# Listed, but about how or where the index is stored rather than what it does: the
# server picks them for the copy (`background` is ignored since MongoDB 4.2).
_STORAGE_FIELDS = frozenset({"v", "ns", "background"})
_TEXT_KEY, _TEXT_SUFFIX = "_fts", "_ftsx"


class UncopyableIndex(ValueError):
    """An index listing that cannot be turned into a createIndex call; the message names
    the index and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class IndexCopy:
    name: str
    model: IndexModel
    # Listed fields that are neither the key, the name, storage details nor an option
    # createIndex takes: left out of the copy.
    left_out: tuple[str, ...]


def indexes_to_copy(indexes: Iterable[Mapping[str, Any]]) -> list[IndexCopy]:
    """Every index but `_id`'s own (the copy has one; a clustered collection lists it
    with `clustered`) and the previous layout's unique player_id one, which the new
    layout does without. UncopyableIndex for a listing no createIndex call can repeat."""
    return [
        index_copy(index)
        for index in indexes
        if index.get("name") != "_id_"
        and not index.get("clustered")
        and not is_player_id_index(index)
    ]


def index_copy(index: Mapping[str, Any]) -> IndexCopy:
    """The createIndex call that makes `index` (one listIndexes entry) again."""
    name = str(index.get("name"))
    options = {field: value for field, value in index.items() if field in CREATE_INDEX_OPTIONS}
    left_out = tuple(
        field
        for field in index
        if field not in CREATE_INDEX_OPTIONS and field not in _STORAGE_FIELDS
        and field not in ("key", "name")
    )  # fmt: skip
    return IndexCopy(name, IndexModel(_keys(name, index), name=name, **options), left_out)


def _keys(name: str, index: Mapping[str, Any]) -> list[tuple[str, Any]]:
    listed = index.get("key")
    if not isinstance(listed, Mapping) or not listed:
        raise UncopyableIndex(f"index {name!r} is listed without a key: {listed!r}")
    keys = [(field, _direction(value)) for field, value in listed.items()]
    fields = [field for field, _ in keys]
    if _TEXT_KEY not in fields:
        return keys
    weights = index.get("weights")
    if not isinstance(weights, Mapping) or not weights:
        raise UncopyableIndex(f"text index {name!r} is listed without the weights of its fields")
    start = fields.index(_TEXT_KEY)
    end = start + 2 if fields[start + 1 : start + 2] == [_TEXT_SUFFIX] else start + 1
    return [*keys[:start], *((str(field), "text") for field in weights), *keys[end:]]


def _direction(value: Any) -> Any:
    # A double (what the legacy mongo shell sent for 1 and -1) orders as its sign does;
    # pymongo takes only integers, strings and documents.
    if isinstance(value, float):
        return 1 if value > 0 else -1
    return value


def player_id_order_index(indexes: Iterable[Mapping[str, Any]]) -> str | None:
    """The name of an index that finds every string player_id in order, so a batch reads
    only its own profiles: player_id its first field, ascending or descending, over
    every document (no partialFilterExpression), comparing strings by their bytes as
    the copy's query does (no collation other than "simple"), and visible to the query
    planner (not hidden). None when there is none."""
    for index in indexes:
        keys = list(dict(index.get("key") or {}).items())
        if not keys or keys[0][0] != "player_id" or not _is_direction(keys[0][1]):
            continue
        collation = index.get("collation")
        if (
            "partialFilterExpression" in index
            or index.get("hidden") is True
            or (collation is not None and dict(collation).get("locale") != "simple")
        ):
            continue
        return str(index.get("name"))
    return None


def _is_direction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value != 0
