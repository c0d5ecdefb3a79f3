"""A catalog file's text decoded into raw campaign documents, before any field is checked.

The file is a JSON list of campaigns, one campaign object, or a catalog object
(`catalog_sections`): `{"segments": {...}, "groups": {...}, "campaigns": [...]}`.
Text json cannot read as it is (an integer of thousands of digits, nesting deeper
than it can recurse, bytes that are not text in their encoding) is reported as a
CatalogError naming the spot, with the help of `services.domain.json_text`.

Objects remember the keys the text wrote more than once (`duplicate_keys`), so that
checking can refuse them rather than let the last one silently win.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.campaigns.errors import CatalogError
from services.domain.json_text import MAX_NESTING, format_path, parse_int_literal, too_deep
from services.domain.json_values import kind_of


class _DuplicateKeysObject(dict[str, Any]):
    """A JSON object that remembers which keys the text wrote more than once."""

    duplicate_keys: tuple[str, ...] = ()


def duplicate_keys(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys the text of `obj` wrote more than once, in the order first repeated."""
    return obj.duplicate_keys if isinstance(obj, _DuplicateKeysObject) else ()


def read_documents(text: str | bytes, source: str) -> list[object]:
    """The catalog's campaign documents, in file order (one for a file that is a single
    campaign); CatalogError when the text is not a JSON list or object."""
    return read_sections(text, source)[0]


# The keys of a catalog object: `campaigns` is required, the others optional.
CATALOG_SECTIONS = ("campaigns", "segments", "groups")


def read_sections(text: str | bytes, source: str) -> tuple[list[object], dict[str, object]]:
    """The campaign documents, as `read_documents` gives them, and the catalog object's
    other sections by key (none for a list of campaigns or a single campaign)."""
    doc = _decode(text, source)
    if isinstance(doc, Mapping) and any(key in doc for key in CATALOG_SECTIONS):
        return catalog_sections(doc, source)
    if isinstance(doc, Mapping):
        return [doc], {}
    if isinstance(doc, list):
        return doc, {}
    raise CatalogError(
        [f"{source}: must be a JSON list of campaigns or one campaign object, got {kind_of(doc)}"]
    )


def catalog_sections(doc: Mapping[str, Any], source: str) -> tuple[list[object], dict[str, object]]:
    """A catalog object's campaign documents and its other sections; CatalogError for
    a missing or malformed `campaigns` and for top-level keys it does not know."""
    problems = [f"{source}: {key}: is written more than once" for key in duplicate_keys(doc)]
    unknown = [key for key in doc if key not in CATALOG_SECTIONS]
    if unknown:
        problems.append(
            f"{source}: unknown top-level field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))} (expected: {', '.join(CATALOG_SECTIONS)})"
        )
    campaigns = doc.get("campaigns")
    if "campaigns" not in doc:
        problems.append(f"{source}: campaigns: is required (a list of campaigns)")
    elif not isinstance(campaigns, list):
        problems.append(
            f"{source}: campaigns: must be a list of campaigns, got {kind_of(campaigns)}"
        )
    if problems:
        raise CatalogError(problems)
    assert isinstance(campaigns, list)
    return campaigns, {key: doc[key] for key in CATALOG_SECTIONS[1:] if key in doc}


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = _DuplicateKeysObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated: dict[str, None] = {}
        for key, _ in pairs:
            if key in seen:
                repeated[key] = None
            seen.add(key)
        obj.duplicate_keys = tuple(repeated)
    return obj


def _decode(text: str | bytes, source: str) -> Any:
    """The JSON value of the text; CatalogError naming the spot when there is none."""
    if isinstance(text, bytes):
        encoding = json.detect_encoding(text)
        try:
            text = text.decode(encoding)
        except UnicodeDecodeError as exc:
            problem = f"not valid {encoding} text: {exc.reason} at byte {exc.start + 1}"
            raise CatalogError([f"{source}: {problem}"]) from None
    try:
        try:
            return json.loads(text, object_pairs_hook=_object_pairs)
        except json.JSONDecodeError:
            raise
        except ValueError:
            # An integer too long for Python to convert: read it again as one out of
            # every range, so that its campaign and field are named.
            return json.loads(text, object_pairs_hook=_object_pairs, parse_int=parse_int_literal)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise CatalogError([f"{source}: {where}: not valid JSON: {exc.msg}"]) from None
    except RecursionError:
        raise CatalogError([_too_deep_problem(text, source)]) from None


def _too_deep_problem(text: str, source: str) -> str:
    problem = f"nested more than {MAX_NESTING} levels deep"
    found = too_deep(text)
    if found is None:
        return f"{source}: {problem}"
    offset, steps = found
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    position = f"(line {line} column {column})"
    # A list of campaigns, a file that is one campaign, or a catalog object's campaigns.
    if steps[0] == "campaigns" and len(steps) > 1 and isinstance(steps[1], int):
        steps = steps[1:]
    elif steps[0] in ("segments", "groups"):
        return f"{source}: {format_path(steps)}: {problem} {position}"
    index, field = (steps[0], steps[1:]) if isinstance(steps[0], int) else (0, steps)
    return f"{source}: campaign #{index + 1}: {format_path(field)}: {problem} {position}"
