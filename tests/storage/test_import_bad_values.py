"""Values that no store can hold, or that Python's json module cannot read as they
are: each rejects its record, and every other record is imported."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from services.domain.profile_json import MAX_CUSTOM_NESTING
from services.profiles import import_file
from services.profiles.import_file import iter_profile_documents
from services.profiles.import_profiles import ImportReport, import_profiles
from services.storage.sqlite_store import SQLiteProfileStore

HUGE = "1" + "0" * 4999  # 5,000 digits: past Python's limit for converting to int
DEEP = "[" * 100_000 + "]" * 100_000
MARK = '"@here@"'


def line_with(player_id: str, field: str, raw: str) -> str:
    """A profile's JSON text with `raw` written, as is, as the value of `field`."""
    return json.dumps({"player_id": player_id, "level": 3, field: MARK[1:-1]}).replace(MARK, raw)


def valid(player_id: str) -> str:
    return json.dumps({"player_id": player_id, "level": 1})


@pytest.fixture
def store() -> Iterator[SQLiteProfileStore]:
    store = SQLiteProfileStore.in_memory()
    yield store
    store.close()


def run(store: SQLiteProfileStore, text: str) -> ImportReport:
    return import_profiles(store, iter_profile_documents(io.StringIO(text)), batch_size=10)


def reasons(report: ImportReport) -> list[tuple[int, str | None, str]]:
    return [(r.index, r.player_id, r.reason) for r in report.rejections]


@pytest.mark.parametrize("as_list", [False, True], ids=["json-lines", "json-list"])
def test_a_time_out_of_range_after_its_offset_rejects_only_its_record(
    store: SQLiteProfileStore, as_list: bool
) -> None:
    records = [valid("a"), line_with("b", "created", '"0001-01-01T00:00:00+01:00"'), valid("c")]
    text = "[" + ",\n".join(records) + "]" if as_list else "\n".join(records)

    report = run(store, text)

    assert (report.created, report.rejected) == (2, 1)
    assert reasons(report) == [
        (1, "b", "created: '0001-01-01T00:00:00+01:00' is out of range (years 1 to 9999 in UTC)")
    ]
    assert set(store.get_many(["a", "b", "c"])) == {"a", "c"}


def test_the_last_second_of_9999_behind_utc_is_out_of_range(store: SQLiteProfileStore) -> None:
    text = "\n".join([line_with("b", "last_purchase", '"9999-12-31T23:59:59-00:01"'), valid("c")])

    report = run(store, text)

    assert report.rejections[0].reason.startswith("last_purchase: '9999-12-31T23:59:59-00:01' is")
    assert report.created == 1


@pytest.mark.parametrize("as_list", [False, True], ids=["json-lines", "json-list"])
@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        ("level", HUGE, "level: is out of the 64-bit range"),
        ("xp", "-" + HUGE, "xp: is out of the 64-bit range"),
        ("total_spent", HUGE, "total_spent: must be a finite number"),
        ("inventory", '{"gem": ' + HUGE + "}", "inventory.gem: is out of the 64-bit range"),
        ("_score", HUGE, "_score: integers must fit in 64 bits"),
    ],
)
def test_a_5000_digit_integer_is_out_of_range_and_the_rest_imported(
    store: SQLiteProfileStore, as_list: bool, field: str, raw: str, reason: str
) -> None:
    records = [valid("a"), line_with("b", field, raw), valid("c")]
    text = "[" + ",".join(records) + "]" if as_list else "\n".join(records)

    report = run(store, text)

    assert reasons(report) == [(1, "b", reason)]
    assert report.created == 2


def test_nesting_too_deep_to_decode_rejects_its_line(store: SQLiteProfileStore) -> None:
    text = "\n".join([valid("a"), line_with("b", "_tree", DEEP), valid("c")])

    report = run(store, text)

    assert reasons(report) == [
        (1, None, "line 2: _tree[0][0][0][0][0][0][0]...: nested more than 100 levels deep")
    ]
    assert report.created == 2


def test_nesting_too_deep_to_decode_ends_a_json_list_where_it_is(
    store: SQLiteProfileStore,
) -> None:
    text = "[\n" + ",\n".join([valid("a"), line_with("b", "_tree", DEEP), valid("c")]) + "\n]"

    report = run(store, text)

    assert reasons(report) == [
        (
            1,
            None,
            "line 3: _tree[0][0][0][0][0][0][0]...: nested more than 100 levels deep;"
            " the rest of the list was not read",
        )
    ]
    assert report.created == 1


@pytest.mark.parametrize("kind", ["list", "object"])
def test_custom_values_nest_at_most_the_limit(store: SQLiteProfileStore, kind: str) -> None:
    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = [value] if kind == "list" else {"k": value}
        return value

    deepest = json.dumps({"player_id": "a", "_tree": nested(MAX_CUSTOM_NESTING)})
    too_deep = json.dumps({"player_id": "b", "_tree": nested(40)})

    report = run(store, deepest + "\n" + too_deep)

    assert report.created == 1
    (rejection,) = report.rejections
    assert rejection.player_id == "b"
    assert rejection.reason.endswith(f": nested more than {MAX_CUSTOM_NESTING} levels deep")
    assert rejection.reason.startswith("_tree")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"player_id": "b\\ud800"}', "player_id"),
        ('{"player_id": "b", "country": "\\udc00"}', "country"),
        ('{"player_id": "b", "active_campaigns": ["x", "\\udfffy"]}', "active_campaigns[1]"),
        ('{"player_id": "b", "inventory": {"\\ud800": 1}}', "inventory.\\ud800"),
        ('{"player_id": "b", "_notes": {"k": ["\\ud83d"]}}', "_notes.k[0]"),
        ('{"player_id": "b", "clan": {"id": "1", "name": "\\ude00"}}', "clan.name"),
    ],
)
def test_a_lone_surrogate_rejects_its_record_and_not_its_batch(
    store: SQLiteProfileStore, text: str, field: str
) -> None:
    # A pair of surrogate escapes is one character, and fine.
    paired = '{"player_id": "c", "_mood": "\\ud83d\\ude00"}'
    report = run(store, "\n".join([valid("a"), text, paired]))

    assert reasons(report) == [
        (
            1,
            None,
            f"line 2: {field}: holds a lone UTF-16 surrogate"
            " (a \\ud800-\\udfff escape without its pair), which is not text",
        )
    ]
    assert set(store.get_many(["a", "c"])) == {"a", "c"}
    got = store.get("c")
    assert got is not None
    assert got.custom_fields == {"_mood": "\N{GRINNING FACE}"}


@pytest.mark.parametrize("chunk", [1, 4, 16, 4096])
def test_a_syntax_error_is_placed_by_line_and_column_across_chunks(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(import_file, "CHUNK_CHARS", chunk)
    # One long line (the window drops the start of it), then a second one.
    records = [valid(f"p{i}") for i in range(20)]
    text = "[" + ", ".join(records) + ",\n" + valid("x")[:-1] + ", oops}]"
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)

    *_, (_, _, reason) = iter_profile_documents(io.StringIO(text))

    assert reason is not None
    assert reason.startswith(f"line 2 column {expected.value.colno}: invalid JSON")
    first_line = "[" + ", ".join(records) + "{"
    text = text.replace(",\n", ", ")
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    *_, (_, _, reason) = iter_profile_documents(io.StringIO(text))
    assert reason is not None
    assert reason.startswith(f"line 1 column {expected.value.colno}: invalid JSON")
    assert expected.value.colno > len(first_line)
