"""Streaming import: JSON list, JSON Lines, single object; bad records; big files."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.profile import Profile
from services.profiles import import_file
from services.profiles.import_file import iter_profile_documents
from services.profiles.import_profiles import ImportReport, Rejection, import_profiles
from services.storage.base import BatchProfileStore, ProfileStore
from services.storage.sqlite_store import SQLiteProfileStore
from tests.storage.contract import PLAYER, SAMPLE, sample


def doc(player_id: str, **fields: Any) -> dict[str, Any]:
    return {"player_id": player_id, "level": 1, "_source": "test", **fields}


def records(text: str) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    return list(iter_profile_documents(io.StringIO(text)))


def docs_of(text: str) -> list[dict[str, Any] | None]:
    return [d for _, d, _ in records(text)]


class ChunkedOnly:
    """A text stream generated on demand that refuses to be read whole.

    Fails the test if read() is asked for everything (no size, or a negative one),
    and remembers the largest chunk asked for.
    """

    def __init__(self, parts: Iterator[str]) -> None:
        self._parts = parts
        self._pending = ""
        self.largest_read = 0
        self.total = 0

    def read(self, size: int | None = -1) -> str:
        assert size is not None, "the whole stream was asked for"
        assert size >= 0, "the whole stream was asked for"
        self.largest_read = max(self.largest_read, size)
        while len(self._pending) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._pending += part
        out, self._pending = self._pending[:size], self._pending[size:]
        self.total += len(out)
        return out


@pytest.fixture
def store() -> Iterator[SQLiteProfileStore]:
    store = SQLiteProfileStore.in_memory()
    yield store
    store.close()


# --- formats ------------------------------------------------------------------------


def test_json_list() -> None:
    text = json.dumps([doc("a"), doc("b")], indent=2)
    assert records(text) == [(0, doc("a"), None), (1, doc("b"), None)]


def test_json_lines() -> None:
    text = "\n".join(json.dumps(d) for d in (doc("a"), doc("b"), doc("c"))) + "\n"
    assert records(text) == [(0, doc("a"), None), (1, doc("b"), None), (2, doc("c"), None)]


def test_json_lines_with_crlf_blank_lines_and_no_final_newline() -> None:
    text = f"{json.dumps(doc('a'))}\r\n\r\n{json.dumps(doc('b'))}"
    assert docs_of(text) == [doc("a"), doc("b")]


def test_single_pretty_printed_object_is_the_sample_file_verbatim() -> None:
    assert records(SAMPLE.read_text()) == [(0, json.loads(SAMPLE.read_text()), None)]


def test_byte_order_mark_and_empty_inputs() -> None:
    assert docs_of("\ufeff" + json.dumps([doc("a")])) == [doc("a")]
    assert records("") == []
    assert records(" \n\t") == []
    assert records("[]") == []
    assert records(" [ \n ] \n") == []


# --- broken input -------------------------------------------------------------------


def test_bad_json_line_is_rejected_with_its_line_and_the_rest_continue() -> None:
    lines = [json.dumps(doc("a")), '{"player_id": "b", "level": }', json.dumps(doc("c"))]

    got = records("\n".join(lines))

    assert [(i, d) for i, d, _ in got] == [(0, doc("a")), (1, None), (2, doc("c"))]
    reason = got[1][2]
    assert reason is not None
    assert reason.startswith("line 2 column 29: invalid JSON: Expecting value")


def test_truncated_json_line_does_not_swallow_the_next_record() -> None:
    text = '{"player_id": "a", "level": 1,\n' + json.dumps(doc("b")) + "\n"

    got = records(text)

    assert [d for _, d, _ in got] == [None, doc("b")]


def test_non_object_records_are_rejected() -> None:
    got = records('[{"player_id": "a"}, 42, [1], "x", null, true, 1.5]')

    assert got[0] == (0, {"player_id": "a"}, None)
    assert [(i, r) for i, _, r in got[1:]] == [
        (1, "a profile must be a JSON object, got a number"),
        (2, "a profile must be a JSON object, got a list"),
        (3, "a profile must be a JSON object, got a string"),
        (4, "a profile must be a JSON object, got null"),
        (5, "a profile must be a JSON object, got a boolean"),
        (6, "a profile must be a JSON object, got a number"),
    ]


def test_syntax_error_inside_a_list_keeps_what_came_before_and_stops() -> None:
    got = records('[\n{"player_id": "a"},\n{"player_id": "b",,},\n{"player_id": "c"}\n]')

    assert got[0] == (0, {"player_id": "a"}, None)
    assert len(got) == 2
    index, document, reason = got[1]
    assert (index, document) == (1, None)
    assert reason is not None
    assert reason.startswith("line 3 column 19: invalid JSON")
    assert reason.endswith("the rest of the list was not read")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('[{"player_id": "a"}', "the JSON list is not closed with ']'"),
        ('[{"player_id": "a"},', "the JSON list is not closed with ']'"),
        ('[{"player_id": "a"} {"player_id": "b"}]', "line 1: expected ',' or ']' after record 1"),
        ('[{"player_id": "a"}]\n]', "line 2: unexpected text after the closing ']'"),
    ],
)
def test_malformed_list_ends(text: str, reason: str) -> None:
    got = records(text)
    assert got[0] == (0, {"player_id": "a"}, None)
    last = got[-1]
    assert last[1] is None
    assert last[2] is not None
    assert last[2].startswith(reason)


def test_a_record_that_never_ends_is_refused_at_the_size_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_file, "MAX_RECORD_CHARS", 100)
    monkeypatch.setattr(import_file, "CHUNK_CHARS", 16)
    text = json.dumps(doc("a")) + '\n{"player_id": "' + "x" * 500 + "\n" + json.dumps(doc("b"))
    stream = ChunkedOnly(iter([text]))

    got = list(iter_profile_documents(stream))

    assert [d for _, d, _ in got] == [doc("a"), None, doc("b")]
    assert got[1][2] == "line 2: record is longer than 100 characters"


# --- chunk boundaries -----------------------------------------------------------------

MIXED_LINES = [
    doc("a", total_spent=12345.5),
    doc("b", _n=1234567890123456789012, _s='quote " and \\ and é 😀'),
    {"player_id": "c", "level": 7},
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 65536])
@pytest.mark.parametrize("form", ["list", "pretty-list", "jsonl", "pretty-objects"])
def test_any_chunk_size_reads_the_same_records(
    monkeypatch: pytest.MonkeyPatch, chunk: int, form: str
) -> None:
    monkeypatch.setattr(import_file, "CHUNK_CHARS", chunk)
    text = {
        "list": json.dumps(MIXED_LINES),
        "pretty-list": json.dumps(MIXED_LINES, indent=4),
        "jsonl": "\n".join(json.dumps(d) for d in MIXED_LINES),
        "pretty-objects": "\n".join(json.dumps(d, indent=2) for d in MIXED_LINES),
    }[form]
    stream = ChunkedOnly(iter([text]))

    assert [d for _, d, _ in iter_profile_documents(stream)] == MIXED_LINES
    assert stream.largest_read == chunk


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON_OBJECTS = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        JSON_SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=6,
    ),
    max_size=4,
)


@settings(max_examples=60)
@given(
    objects=st.lists(JSON_OBJECTS, max_size=6),
    chunk=st.integers(min_value=1, max_value=40),
    as_list=st.booleans(),
    indent=st.sampled_from([None, 1, 2]),
)
def test_streamed_records_equal_json_loads(
    objects: list[dict[str, Any]], chunk: int, as_list: bool, indent: int | None
) -> None:
    text = (
        json.dumps(objects, indent=indent)
        if as_list
        else "\n".join(json.dumps(o, indent=indent) for o in objects)
    )
    original = import_file.CHUNK_CHARS
    import_file.CHUNK_CHARS = chunk  # not monkeypatch: hypothesis reuses the test's fixtures
    try:
        got = list(iter_profile_documents(ChunkedOnly(iter([text]))))
    finally:
        import_file.CHUNK_CHARS = original
    assert got == [(i, o, None) for i, o in enumerate(objects)]


# --- import_profiles -----------------------------------------------------------------


def test_import_of_the_sample_file(store: SQLiteProfileStore) -> None:
    with SAMPLE.open() as stream:
        report = import_profiles(store, iter_profile_documents(stream))

    assert report == ImportReport(created=1, updated=0, rejected=0, rejections=[])
    assert store.get(PLAYER) == sample()


def test_bad_record_in_the_middle_is_rejected_and_the_rest_imported(
    store: SQLiteProfileStore,
) -> None:
    store.create(Profile(player_id="b"))
    text = json.dumps([doc("a"), doc("b"), doc("bad", level="high"), {"level": 1}, doc("c")])

    report = import_profiles(store, iter_profile_documents(io.StringIO(text)), batch_size=2)

    assert (report.created, report.updated, report.rejected) == (2, 1, 2)
    assert report.rejections == [
        Rejection(2, "bad", "level: must be a whole number, got a string"),
        Rejection(3, None, "player_id: must be a string, got null"),
    ]
    assert set(store.get_many(["a", "b", "c", "bad"])) == {"a", "b", "c"}


def test_reader_errors_become_rejections(store: SQLiteProfileStore) -> None:
    text = json.dumps(doc("a")) + "\n{oops\n" + json.dumps(doc("b"))

    report = import_profiles(store, iter_profile_documents(io.StringIO(text)))

    assert (report.created, report.rejected) == (2, 1)
    assert report.rejections[0].index == 1
    assert report.rejections[0].reason.startswith("line 2 column 2: invalid JSON")


def test_repeated_player_last_wins_and_counts_like_one_by_one(store: SQLiteProfileStore) -> None:
    documents = [(0, doc("a", level=1), None), (1, doc("a", level=2), None)]

    report = import_profiles(store, documents)

    assert (report.created, report.updated) == (1, 1)
    got = store.get("a")
    assert got is not None
    assert got.level == 2


def test_rejections_listed_are_capped_but_all_counted(store: SQLiteProfileStore) -> None:
    documents = [(i, None, "broken") for i in range(50)]

    report = import_profiles(store, documents, max_rejections=10)

    assert report.rejected == 50
    assert [r.index for r in report.rejections] == list(range(10))


class SpyBatches:
    """Counts the batches a batch-capable store is given."""

    def __init__(self, inner: SQLiteProfileStore) -> None:
        self.inner = inner
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert_many(self, profiles: Sequence[Profile], *, timeout: float | None = None) -> int:
        self.batches.append(len(profiles))
        return self.inner.upsert_many(profiles, timeout=timeout)


class OneByOne:
    """A store with only the small ProfileStore contract, as wrappers and fakes have."""

    def __init__(self, inner: ProfileStore) -> None:
        self.inner = inner
        self.upserts = 0

    def upsert(self, profile: Profile, *, timeout: float | None = None) -> bool:
        self.upserts += 1
        return self.inner.upsert(profile, timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        if name == "upsert_many":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_batches_are_of_batch_size(store: SQLiteProfileStore) -> None:
    spy = SpyBatches(store)
    documents = [(i, doc(f"p{i}"), None) for i in range(12)]

    report = import_profiles(spy, documents, batch_size=5)

    assert spy.batches == [5, 5, 2]
    assert report.created == 12


def test_store_without_upsert_many_is_written_one_by_one(store: SQLiteProfileStore) -> None:
    plain = OneByOne(store)
    assert not isinstance(plain, BatchProfileStore)
    store.create(Profile(player_id="p1"))

    report = import_profiles(plain, [(i, doc(f"p{i}"), None) for i in range(3)])

    assert (report.created, report.updated, plain.upserts) == (2, 1, 3)


def test_batch_size_must_be_positive(store: SQLiteProfileStore) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        import_profiles(store, [], batch_size=0)


# --- a large file --------------------------------------------------------------------

LARGE = 20_000


def _large(form: str) -> Iterator[str]:
    base = json.loads(SAMPLE.read_text())
    if form == "list":
        yield "[\n"
    for i in range(LARGE):
        record = json.dumps({**base, "player_id": f"player-{i:06d}", "xp": i})
        if form == "list":
            yield record + (",\n" if i < LARGE - 1 else "\n]\n")
        else:
            yield record + "\n"


@pytest.mark.parametrize("form", ["list", "jsonl"])
def test_large_file_streams_in_bounded_chunks(store: SQLiteProfileStore, form: str) -> None:
    stream = ChunkedOnly(_large(form))

    report = import_profiles(store, iter_profile_documents(stream))

    assert (report.created, report.updated, report.rejected) == (LARGE, 0, 0)
    assert stream.largest_read == import_file.CHUNK_CHARS
    assert stream.total > 200 * import_file.CHUNK_CHARS  # many chunks, never the whole file
    assert store.count() == LARGE
    last = store.get(f"player-{LARGE - 1:06d}")
    assert last is not None
    assert last.xp == LARGE - 1
    assert last.custom_fields == {"_customfield": "mycustom"}
