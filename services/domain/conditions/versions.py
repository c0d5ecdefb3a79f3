"""Semantic versions for `$veq $vne $vgt $vgte $vlt $vlte`, ordered as semver.org §11 says.

Two liberties beyond the specification, both common in game clients' version strings: a
leading `v` (or `V`) is allowed, and missing minor or patch numbers count as 0 (`1.2`
is `1.2.0`, `v2` is `2.0.0`). Everything else is semver.org's grammar: no leading zeros
in numbers, pre-release identifiers of `[0-9A-Za-z-]`, build metadata after `+`
(ignored by the order). A pre-release orders before its release; pre-release
identifiers compare one by one, numbers numerically and below any alphanumeric, which
compare in ASCII order; a longer list of equal leading identifiers orders after.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

_NUMBER = r"0|[1-9][0-9]*"
_IDENTIFIER = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION: Final = re.compile(
    rf"[vV]?(?P<major>{_NUMBER})(?:\.(?P<minor>{_NUMBER}))?(?:\.(?P<patch>{_NUMBER}))?"
    rf"(?:-(?P<pre>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)

# Pre-release identifiers as sort keys: numbers (0, n, "") before words (1, 0, text).
Identifier = tuple[int, int, str]
# (major, minor, patch, is a release, pre-release identifiers).
VersionKey = tuple[int, int, int, int, tuple[Identifier, ...]]

# Version strings repeat (a few app versions across millions of profiles).
_CACHE_SIZE: Final = 4096


@lru_cache(maxsize=_CACHE_SIZE)
def version_key(text: str) -> VersionKey | None:
    """The sort key of `text`, or None when it is not a version."""
    match = _VERSION.fullmatch(text)
    if match is None:
        return None
    pre = match["pre"]
    identifiers = (
        ()
        if pre is None
        else tuple(
            (0, int(part), "") if part.isascii() and part.isdigit() else (1, 0, part)
            for part in pre.split(".")
        )
    )
    return (
        int(match["major"]),
        int(match["minor"] or 0),
        int(match["patch"] or 0),
        0 if identifiers else 1,
        identifiers,
    )


def version_problem(text: object) -> str | None:
    """Why `text` is not a version operand, or None when it is one."""
    if not isinstance(text, str):
        return f"must be a version string like '1.2.3', got {type(text).__name__}"
    if version_key(text) is None:
        return (
            f"{text!r} is not a semantic version (like '1.2.3', 'v1.2', '2.0.0-beta.1'; "
            "no leading zeros)"
        )
    return None


VERSION_OPERATORS: Final = {
    "$veq": "$eq",
    "$vne": "$ne",
    "$vgt": "$gt",
    "$vgte": "$gte",
    "$vlt": "$lt",
    "$vlte": "$lte",
}


def version_holds(positive_operator: str, value: object, operand: VersionKey) -> bool:
    """One value against a version operand: false for anything but a version string.

    `positive_operator` is one of $veq $vgt $vgte $vlt $vlte ($vne is the negation of
    $veq over the whole field, as $ne is of $eq).
    """
    if type(value) is not str and not isinstance(value, str):
        return False
    key = version_key(value)
    if key is None:
        return False
    if positive_operator == "$veq":
        return key == operand
    if positive_operator == "$vgt":
        return key > operand
    if positive_operator == "$vgte":
        return key >= operand
    if positive_operator == "$vlt":
        return key < operand
    return key <= operand
