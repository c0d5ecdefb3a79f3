"""Catalog text that Python's json module cannot read as it is: each is a problem
naming the file, the campaign and the field, at start-up and on reload."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from services.campaigns import main
from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_file, parse_catalog
from services.campaigns.errors import CatalogError
from services.campaigns.file_watcher import CatalogFileWatcher, file_signature
from services.campaigns.served_catalog import ServedCatalog
from tests.campaigns.conftest import POLL_INTERVAL, write_atomically

Doc = dict[str, Any]
SOURCE = "catalog.json"
HUGE = "1" + "0" * 4999  # 5,000 digits: past Python's limit for converting to int
DEEP = "[" * 100_000 + "]" * 100_000
MARK = '"@here@"'


def text_with(docs: list[Doc], path: tuple[str, ...], raw: str) -> str:
    """The catalog's text with `raw` written, as is, at `path` of the second campaign."""
    docs = copy.deepcopy(docs)
    target = docs[1]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = MARK[1:-1]
    return json.dumps(docs, indent=2).replace(MARK, raw)


def problems(text: str | bytes) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, SOURCE)
    return info.value.problems


@pytest.fixture
def two(campaign_doc: Any) -> list[Doc]:
    return [campaign_doc(name="first"), campaign_doc(name="second")]


def test_a_5000_digit_integer_is_out_of_range_in_its_campaign_and_field(two: list[Doc]) -> None:
    text = text_with(two, ("matchers", "level", "max"), HUGE)

    assert problems(text) == [
        f"{SOURCE}: campaign #2 'second': matchers.level.max: "
        "is out of the 64-bit range, got a 5,000-digit integer"
    ]


def test_a_5000_digit_priority_is_out_of_range(two: list[Doc]) -> None:
    text = text_with(two, ("priority",), "-" + HUGE)

    assert problems(text) == [
        f"{SOURCE}: campaign #2 'second': priority: "
        "is out of range, got a 5,000-digit negative integer"
    ]


def test_100000_deep_nesting_names_campaign_field_and_position(two: list[Doc]) -> None:
    text = text_with(two, ("matchers", "has", "items"), DEEP)
    line = text[: text.index(DEEP)].count("\n") + 1

    (problem,) = problems(text)

    assert problem.startswith(
        f"{SOURCE}: campaign #2: matchers.has.items[0][0][0][0][0]...: "
        "nested more than 100 levels deep"
    )
    # Four levels (list, campaign, matchers, has) hold the items, so the 97th bracket of
    # DEEP is the 101st level.
    column = text.splitlines()[line - 1].index("[") + 1 + 96
    assert problem.endswith(f"(line {line} column {column})")


def test_deep_nesting_in_a_single_campaign_file(two: list[Doc]) -> None:
    text = json.dumps({**two[0], "matchers": MARK[1:-1]}).replace(MARK, DEEP)

    (problem,) = problems(text)

    assert problem.startswith(f"{SOURCE}: campaign #1: matchers[0][0][0][0][0][0][0]...: nested")


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        (("name",), r'"\ud800"', "name"),
        (("matchers", "has", "country"), r'["US", "\udfff"]', "matchers.has.country[1]"),
        (("game",), r'"\udc00x\ud83d\ude00"', "game"),
    ],
)
def test_a_lone_surrogate_is_refused_by_field(
    two: list[Doc], path: tuple[str, ...], raw: str, field: str
) -> None:
    text = text_with(two, path, raw)

    (problem,) = problems(text)

    assert problem.startswith(f"{SOURCE}: campaign #2 ")
    assert f": {field}: holds a lone UTF-16 surrogate" in problem
    problem.encode("utf-8")  # printable anywhere: the surrogate itself is escaped


def test_a_surrogate_in_an_unknown_key_is_shown_escaped(two: list[Doc]) -> None:
    text = json.dumps(two).replace('"enabled"', '"x\\udc00": 1, "enabled"', 1)

    assert problems(text) == [
        f"{SOURCE}: campaign #1 'first': x\\udc00: holds a lone UTF-16 surrogate "
        "(a \\ud800-\\udfff escape without its pair), which is not text"
    ]


def test_a_time_past_year_9999_after_its_offset_is_out_of_range(two: list[Doc]) -> None:
    text = text_with(two, ("end_date",), '"9999-12-31T23:30:00-01:00"')

    assert problems(text) == [
        f"{SOURCE}: campaign #2 'second': end_date: "
        "'9999-12-31T23:30:00-01:00' is out of range (years 1 to 9999 in UTC)"
    ]


def test_encoded_surrogates_are_not_utf8(two: list[Doc]) -> None:
    text = text_with(two, ("name",), '"@"').encode().replace(b'"@"', b'"\xed\xa0\x80"')

    at = text.index(b"\xed") + 1
    assert problems(text) == [
        f"{SOURCE}: not valid utf-8 text: invalid continuation byte at byte {at}"
    ]


def test_campaigns_command_reports_each_and_exits_2(
    tmp_path: Path, two: list[Doc], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "catalog.json"
    text = text_with(two, ("matchers", "level", "max"), HUGE)
    path.write_text(text.replace('"enabled": true', f'"enabled": {DEEP}', 1))
    parser = argparse.ArgumentParser()
    main.configure(parser)

    assert main.run(parser.parse_args(["--catalog", str(path), "--port", "0"])) == 2

    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"  {path}: campaign #1: enabled[0][0][0][0][0][0][0]...: nested more" in err


@pytest.mark.parametrize(
    "raw",
    [HUGE, DEEP, '"\\ud800"', '"0001-01-01T00:00:00+01:00"'],
    ids=["5000 digits", "100000 deep", "lone surrogate", "year 0"],
)
def test_a_reload_keeps_the_last_good_catalog(
    tmp_path: Path, two: list[Doc], raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "catalog.json"
    write_atomically(path, two)
    served = ServedCatalog(build_catalog(load_catalog_file(path)))
    watcher = CatalogFileWatcher(path, served, interval=POLL_INTERVAL, seen=file_signature(path))
    first = served.current

    write_atomically(path, text_with(two, ("start_date",), raw))
    watcher.poll()

    assert served.current is first
    assert f"{path}: campaign #2" in caplog.text
