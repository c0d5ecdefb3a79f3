"""Semantic versions: semver.org's precedence, plus a leading `v` and missing parts.

The property test compares with the `semver` package (python-semver), which implements
semver.org's §11 and is independent of versions.py.
"""

from __future__ import annotations

import itertools

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from services.domain.conditions import ConditionError, parse_condition
from services.domain.conditions.versions import VersionKey, version_key
from tests.matching.conditions.helpers import holds

# semver.org §11, the example chain, lowest first.
PRECEDENCE = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def _key(text: str) -> VersionKey:
    key = version_key(text)
    assert key is not None, text
    return key


def test_semver_org_precedence_chain() -> None:
    keys = [_key(text) for text in PRECEDENCE]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    for lower, higher in itertools.pairwise(PRECEDENCE):
        assert holds({"context.v": {"$vlt": higher}}, {}, {"v": lower})
        assert holds({"context.v": {"$vgt": lower}}, {}, {"v": higher})
        assert not holds({"context.v": {"$vgte": higher}}, {}, {"v": lower})


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("1", "1.0.0"),
        ("1.2", "1.2.0"),
        ("v1.2.3", "1.2.3"),
        ("V2", "2.0.0"),
        ("1.0.0+build.5", "1.0.0"),
        ("1.0.0-rc.1+build.1", "1.0.0-rc.1"),
        ("1.2-beta", "1.2.0-beta"),
    ],
)
def test_equal_versions(left: str, right: str) -> None:
    assert _key(left) == _key(right)
    assert holds({"context.v": {"$veq": left}}, {}, {"v": right})
    assert not holds({"context.v": {"$vne": left}}, {}, {"v": right})


def test_numbers_compare_numerically() -> None:
    assert holds({"context.v": {"$vgt": "1.9.0"}}, {}, {"v": "1.10.0"})
    assert holds({"context.v": {"$vlt": "1.0.0-beta.11"}}, {}, {"v": "1.0.0-beta.9"})
    # Numeric identifiers order before alphanumeric ones.
    assert holds({"context.v": {"$vlt": "1.0.0-a"}}, {}, {"v": "1.0.0-99"})


def test_non_versions_match_nothing_but_vne() -> None:
    for value in ("1.02", "latest", "", 12, None, [], ["x"]):
        assert not holds({"context.v": {"$vgte": "0.0.0"}}, {}, {"v": value})
        assert holds({"context.v": {"$vne": "1.0.0"}}, {}, {"v": value})
    assert not holds({"context.v": {"$vgte": "0"}}, {}, {})
    assert holds({"context.v": {"$vne": "1"}}, {}, {})


def test_arrays_match_when_one_version_does() -> None:
    assert holds(
        {"devices.firmware": {"$vgte": "17"}},
        {"devices": [{"firmware": "16.4"}, {"firmware": "17.1"}]},
    )
    assert not holds(
        {"devices.firmware": {"$vne": "17.1"}},
        {"devices": [{"firmware": "16.4"}, {"firmware": "17.1"}]},
    )


@pytest.mark.parametrize(
    "text", ["01.2.3", "1.2.3.4", "1.2.3-", "1.2.3-01", "1..2", "v", "1.2.3+", " 1"]
)
def test_bad_versions_are_refused(text: str) -> None:
    with pytest.raises(ConditionError, match="bad version"):
        parse_condition({"context.v": {"$vgt": text}})


_NUMBER = st.integers(0, 12)
_IDENTIFIER = st.one_of(
    st.integers(0, 12).map(str),
    st.text("abz-", min_size=1, max_size=3),
    st.text("0123456789abz-", min_size=1, max_size=3).filter(
        lambda part: not (part.isdigit() and len(part) > 1 and part.startswith("0"))
    ),
)
_VERSIONS = st.builds(
    lambda major, minor, patch, pre, build: (
        f"{major}.{minor}.{patch}"
        + (f"-{'.'.join(pre)}" if pre else "")
        + (f"+{'.'.join(build)}" if build else "")
    ),
    _NUMBER,
    _NUMBER,
    _NUMBER,
    st.lists(_IDENTIFIER, max_size=3),
    st.lists(st.text("abc01", min_size=1, max_size=2), max_size=2),
)


@given(_VERSIONS, _VERSIONS, st.booleans())
def test_order_agrees_with_python_semver(left: str, right: str, prefix: bool) -> None:
    expected = semver.Version.parse(left).compare(semver.Version.parse(right))
    mine = _key(("v" if prefix else "") + left)
    theirs = _key(right)
    assert (mine > theirs) - (mine < theirs) == expected
