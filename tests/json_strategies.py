"""Hypothesis strategies for JSON text as anyone might write it: any JSON value, plus
the literals Python's json module reads badly (integers of thousands of digits,
NaN and Infinity, nesting deeper than it can recurse, lone surrogate escapes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """JSON text written into the output as it is."""

    text: str


RAW_LITERALS = st.sampled_from(
    [
        Raw("1" + "0" * 4999),
        Raw("-" + "9" * 5000),
        Raw("1" + "0" * 400),
        Raw("NaN"),
        Raw("-Infinity"),
        Raw("1e999"),
        Raw("1" + "0" * 5000 + ".5"),
        Raw("[" * 100_000 + "]" * 100_000),
        Raw('{"a":' * 3000 + "1" + "}" * 3000),
        Raw('"\\ud800"'),
        Raw('"x\\udfff"'),
        Raw('"\\ud83d\\ude00"'),
        Raw('"0001-01-01T00:00:00+01:00"'),
        Raw('"9999-12-31T23:59:59-01:00"'),
    ]
)
# Surrogates included: json.dumps writes them as \\udXXX escapes.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**64)
    | st.floats()
    | TEXT
    | RAW_LITERALS
)
# Keys the loaders know, so that generated objects reach their checks.
RAW_KEYS = st.sampled_from(["level", "player_id", "created", "_x", "matchers", "name", "items"])
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT | RAW_KEYS, inner, max_size=3),
    max_leaves=12,
)


def to_text(value: Any) -> str:
    """JSON text of a VALUES value; Raw parts go in verbatim."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, list):
        return "[" + ", ".join(to_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def with_field(document: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A copy of `document` with `value` at `path` (made of keys), intermediate objects
    created as needed; the way to reach the checks behind a valid start."""
    copy: dict[str, Any] = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return copy


# Pieces of JSON and of the literals above, joined at random: text that is almost
# JSON, broken anywhere.
FRAGMENTS = st.lists(
    st.sampled_from(["[", "]", "{", "}", '"', ":", ",", " ", "\n", "1", "-", "\\", "null"])
    | TEXT
    | RAW_LITERALS.map(lambda raw: raw.text),
    max_size=12,
).map("".join)
