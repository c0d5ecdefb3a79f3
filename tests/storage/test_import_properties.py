"""Any text, any JSON: the import reader yields records and rejections, import_profiles
counts them, and nothing raises (its only documented error is the store's,
DependencyUnavailable, which an in-memory store never has)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.cli import main
from services.profiles.import_file import iter_profile_documents
from services.profiles.import_profiles import import_profiles
from services.storage.sqlite_store import SQLiteProfileStore
from tests.conftest import TEST_DATA
from tests.json_strategies import FRAGMENTS, TEXT, VALUES, to_text, with_field

SAMPLE: dict[str, Any] = json.loads((TEST_DATA / "profile.json").read_text())
FIELDS = [
    ["player_id"], ["created"], ["level"], ["xp"], ["total_spent"], ["country"],
    ["active_campaigns"], ["devices"], ["inventory"], ["inventory", "item_1"], ["clan"],
    ["clan", "name"], ["_custom"], ["_custom", "deep"], ["unknown"],
]  # fmt: skip


def import_text(text: str) -> None:
    records = list(iter_profile_documents(io.StringIO(text)))
    assert [index for index, _, _ in records] == list(range(len(records)))
    store = SQLiteProfileStore.in_memory()
    try:
        report = import_profiles(store, records, batch_size=3)
    finally:
        store.close()
    assert report.created + report.updated + report.rejected == len(records)
    for rejection in report.rejections:
        rejection.reason.encode("utf-8")  # printable: no lone surrogate in a message
        assert rejection.reason


@st.composite
def profile_texts(draw: st.DrawFn) -> str:
    """Profiles with one field set to anything, as a JSON list or as JSON lines."""
    records = [
        to_text(with_field(SAMPLE, draw(st.sampled_from(FIELDS)), draw(VALUES)))
        for _ in range(draw(st.integers(min_value=1, max_value=3)))
    ]
    if draw(st.booleans()):
        return "[" + ",\n".join(records) + "]"
    return "\n".join(records)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=profile_texts())
def test_profiles_with_any_field_value(text: str) -> None:
    import_text(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(VALUES, max_size=4), as_list=st.booleans())
def test_any_json_values(values: list[Any], as_list: bool) -> None:
    texts = [to_text(v) for v in values]
    import_text("[" + ", ".join(texts) + "]" if as_list else "\n".join(texts))


@settings(max_examples=150, deadline=None)
@given(text=FRAGMENTS | TEXT)
def test_any_text(text: str) -> None:
    import_text(text)


@settings(max_examples=40, deadline=None)
@given(content=st.binary(max_size=64) | FRAGMENTS.map(str.encode) | profile_texts().map(str.encode))
@example(content=b'{"player_id": "a"}\n{"player_id": "b", "created": "0001-01-01T00:00:00+01:00"}')
@example(content=b'[{"player_id": "a", "level": ' + b"9" * 5000 + b"}]")
@example(content=b'{"player_id": "a", "_x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
@example(content=b'{"player_id": "\\udc00"}')
def test_import_command_on_any_bytes(content: bytes) -> None:
    # Strict UTF-8, as a terminal or a log file: a lone surrogate cannot be printed.
    capture = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "players.json"
        path.write_bytes(content)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stdout", capture)
            patch.setattr("sys.stderr", capture)
            code = main(["import", str(path)])
    # 0 all imported, 1 some rejected, 2 the file could not be read (not UTF-8).
    assert code in (0, 1, 2)
    capture.flush()
    assert b"Traceback" not in capture.buffer.getvalue()
