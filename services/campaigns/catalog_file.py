"""The catalog file: a JSON list of campaigns in the users' format, or one campaign.

The format is the one of the sample `data/campaign.json`, accepted verbatim. Loading
checks everything and reports every problem at once, each naming the file, the
campaign (number, from 1, and name) and the field, because operators fix a catalog
by hand and one round trip per typo would be slow:

    catalog.json: campaign #1 'mycampaign': matchers.level: min 5 is greater than max 3

Text json cannot read as it is (an integer of thousands of digits, nesting deeper than
it can recurse, a lone surrogate escape) is reported the same way (see `json_text`).

Optional fields (`last_updated`, the matchers and their lists) may also be written as
`null`, which means the same as leaving them out. A key written twice in one object is
an error rather than silently "last one wins". A campaign name is unique across the
whole catalog, in every game: profiles store matched campaigns by name.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.domain.campaign import Campaign, LevelRange
from services.domain.json_text import (
    LONE_SURROGATE,
    MAX_NESTING,
    format_path,
    lone_surrogate_path,
    parse_int_literal,
    too_deep,
)
from services.domain.timefmt import format_timestamp, parse_timestamp

# Document keys in the sample's order; documents are written in it.
CAMPAIGN_FIELDS = (
    "game",
    "name",
    "priority",
    "matchers",
    "start_date",
    "end_date",
    "enabled",
    "last_updated",
)
REQUIRED_FIELDS = tuple(f for f in CAMPAIGN_FIELDS if f != "last_updated")
MATCHER_FIELDS = ("level", "has", "does_not_have")
LEVEL_FIELDS = ("min", "max")
HAS_FIELDS = ("country", "items")
DOES_NOT_HAVE_FIELDS = ("items",)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Stands in for a time that failed to parse, so checking can go on; never returned.
_NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)


class CatalogError(Exception):
    """A catalog that cannot be used; `problems` holds one complete message per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _DuplicateKeysObject(dict[str, Any]):
    """A JSON object that remembers which keys the text wrote more than once."""

    duplicate_keys: tuple[str, ...] = ()


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


def parse_catalog(text: str | bytes, source: str) -> tuple[Campaign, ...]:
    """Campaigns of a catalog file's text, in file order; CatalogError lists every problem."""
    doc = _decode(text, source)
    if isinstance(doc, Mapping):
        docs: Sequence[object] = [doc]
    elif isinstance(doc, list):
        docs = doc
    else:
        raise CatalogError(
            [f"{source}: must be a JSON list of campaigns or one campaign object, got {_kind(doc)}"]
        )

    # (campaign index, message): reported in file order, whichever check found them.
    problems: list[tuple[int, str]] = []
    campaigns: list[Campaign] = []
    for index, item in enumerate(docs):
        if (path := lone_surrogate_path(item)) is not None:
            # Checked first: no other message may quote the text (no output can show it).
            where = _where(source, index, item if isinstance(item, Mapping) else None)
            problems.append((index, f"{where}: {path}: {LONE_SURROGATE}"))
            continue
        try:
            campaigns.append(campaign_from_document(item, index=index, source=source))
        except CatalogError as exc:
            problems.extend((index, problem) for problem in exc.problems)

    problems.extend(_duplicate_names(docs, source))
    if problems:
        raise CatalogError([problem for _, problem in sorted(problems, key=lambda p: p[0])])
    return tuple(campaigns)


def _duplicate_names(docs: Sequence[object], source: str) -> list[tuple[int, str]]:
    """A problem for each campaign whose name an earlier one already uses, in any game:
    `active_campaigns` holds names, so a name must identify one campaign.

    Checked on the raw documents, so a duplicate is reported even when the campaign
    has other problems.
    """
    problems: list[tuple[int, str]] = []
    first: dict[str, tuple[int, object]] = {}
    for index, item in enumerate(docs):
        if not isinstance(item, Mapping):
            continue
        name, game = item.get("name"), item.get("game")
        if not (isinstance(name, str) and name):
            continue
        earlier, earlier_game = first.setdefault(name, (index, game))
        if earlier == index:
            continue
        where = _where(source, index, item)
        problem = f"{where}: name: {name!r} is already used by campaign #{earlier + 1}"
        if isinstance(earlier_game, str):
            problem += f" of game {earlier_game!r}"
        if earlier_game != game:
            problem += " (names must be unique across games)"
        problems.append((index, problem))
    return problems


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
    # A list of campaigns, or a file that is one campaign.
    index, field = (steps[0], steps[1:]) if isinstance(steps[0], int) else (0, steps)
    return f"{source}: campaign #{index + 1}: {format_path(field)}: {problem} {position}"


def load_catalog_file(path: str | os.PathLike[str]) -> tuple[Campaign, ...]:
    """Reads and parses a catalog file; an unreadable file is a CatalogError too."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise CatalogError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
    return parse_catalog(text, source)


def campaign_from_document(doc: object, *, index: int = 0, source: str = "<input>") -> Campaign:
    """The campaign of one catalog document; CatalogError lists every problem in it.

    `index` is the campaign's position in the file, from 0; messages count from 1."""
    if not isinstance(doc, Mapping):
        raise CatalogError(
            [f"{_where(source, index, None)}: must be a JSON object, got {_kind(doc)}"]
        )
    check = _Checker()
    check.keys(doc, CAMPAIGN_FIELDS, "")
    for name in REQUIRED_FIELDS:
        if name not in doc:
            check.problem(name, "is required")

    game = check.string(doc.get("game"), "game") if "game" in doc else ""
    name = check.string(doc.get("name"), "name") if "name" in doc else ""
    priority = check.number(doc["priority"], "priority") if "priority" in doc else 0.0
    enabled = check.boolean(doc["enabled"], "enabled") if "enabled" in doc else False
    start = check.time(doc["start_date"], "start_date") if "start_date" in doc else _NO_TIME
    end = check.time(doc["end_date"], "end_date") if "end_date" in doc else _NO_TIME
    last_updated = (
        None if doc.get("last_updated") is None else check.time(doc["last_updated"], "last_updated")
    )
    if check.clean("start_date", "end_date") and end <= start:
        check.problem(
            "end_date",
            f"{format_timestamp(end)} is not after start_date {format_timestamp(start)}",
        )

    level: LevelRange | None = None
    countries: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    matchers = check.obj(doc["matchers"], "matchers") if "matchers" in doc else None
    if matchers is not None:
        check.keys(matchers, MATCHER_FIELDS, "matchers")
        level = _level(check, matchers.get("level"))
        has = _optional_obj(check, matchers.get("has"), "matchers.has", HAS_FIELDS)
        if has is not None:
            countries = check.strings(has.get("country"), "matchers.has.country")
            required = check.strings(has.get("items"), "matchers.has.items")
        does_not_have = _optional_obj(
            check, matchers.get("does_not_have"), "matchers.does_not_have", DOES_NOT_HAVE_FIELDS
        )
        if does_not_have is not None:
            forbidden = check.strings(does_not_have.get("items"), "matchers.does_not_have.items")

    if check.problems:
        where = _where(source, index, doc)
        raise CatalogError(
            [f"{where}: {field}: {problem}" for field, problem in check.in_document_order()]
        )
    return Campaign(
        game=game,
        name=name,
        priority=priority,
        start_date=start,
        end_date=end,
        enabled=enabled,
        level=level,
        countries=countries,
        required_items=required,
        forbidden_items=forbidden,
        last_updated=last_updated,
    )


def campaign_to_document(c: Campaign) -> dict[str, Any]:
    """The campaign in the sample's shape and key order; absent matchers are left out."""
    matchers: dict[str, Any] = {}
    if c.level is not None:
        matchers["level"] = {"min": c.level.min, "max": c.level.max}
    has: dict[str, Any] = {}
    if c.countries:
        has["country"] = list(c.countries)
    if c.required_items:
        has["items"] = list(c.required_items)
    if has:
        matchers["has"] = has
    if c.forbidden_items:
        matchers["does_not_have"] = {"items": list(c.forbidden_items)}
    doc: dict[str, Any] = {
        "game": c.game,
        "name": c.name,
        "priority": float(c.priority),
        "matchers": matchers,
        "start_date": format_timestamp(c.start_date),
        "end_date": format_timestamp(c.end_date),
        "enabled": c.enabled,
    }
    if c.last_updated is not None:
        doc["last_updated"] = format_timestamp(c.last_updated)
    return doc


def catalog_to_json(campaigns: Iterable[Campaign]) -> str:
    """Catalog file text for `campaigns`, readable by `parse_catalog`."""
    return json.dumps([campaign_to_document(c) for c in campaigns], indent=4) + "\n"


def _where(source: str, index: int, doc: Mapping[str, Any] | None) -> str:
    name = None if doc is None else doc.get("name")
    label = repr(name) if isinstance(name, str) and name else "(no name)"
    return f"{source}: campaign #{index + 1} {label}"


def _level(check: _Checker, value: object) -> LevelRange | None:
    doc = _optional_obj(check, value, "matchers.level", LEVEL_FIELDS)
    if doc is None:
        return None
    bounds: dict[str, int] = {}
    for bound in LEVEL_FIELDS:
        field = f"matchers.level.{bound}"
        if bound not in doc:
            check.problem(field, "is required")
        elif (number := check.integer(doc[bound], field)) is not None:
            if number < 0:
                check.problem(field, f"must not be negative, got {number}")
            else:
                bounds[bound] = number
    if len(bounds) != len(LEVEL_FIELDS):
        return None
    if bounds["min"] > bounds["max"]:
        check.problem("matchers.level", f"min {bounds['min']} is greater than max {bounds['max']}")
        return None
    return LevelRange(bounds["min"], bounds["max"])


def _optional_obj(
    check: _Checker, value: object, field: str, allowed: tuple[str, ...]
) -> Mapping[str, Any] | None:
    if value is None:
        return None
    doc = check.obj(value, field)
    if doc is not None:
        check.keys(doc, allowed, field)
    return doc


class _Checker:
    """Collects (field, problem) pairs; each check returns a usable stand-in on failure
    so that checking goes on and every problem of a campaign is found in one pass."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, field: str, problem: str) -> None:
        self.problems.append((field, problem))

    def in_document_order(self) -> list[tuple[str, str]]:
        """Problems ordered by their top-level field as the sample orders them, so a
        report reads like the file; unknown fields come last."""

        def position(item: tuple[str, str]) -> int:
            top = item[0].split(".")[0].split("[")[0]
            return CAMPAIGN_FIELDS.index(top) if top in CAMPAIGN_FIELDS else len(CAMPAIGN_FIELDS)

        return sorted(self.problems, key=position)

    def clean(self, *fields: str) -> bool:
        return not any(field in fields for field, _ in self.problems)

    def keys(self, doc: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in getattr(doc, "duplicate_keys", ()):
            self.problem(_join(prefix, key), "is written more than once")
        for key in doc:
            if key not in allowed:
                self.problem(
                    _join(prefix, str(key)),
                    f"unknown field (expected one of: {', '.join(allowed)})",
                )

    def string(self, value: object, field: str) -> str:
        if not isinstance(value, str):
            self.problem(field, f"must be a string, got {_kind(value)}")
            return ""
        if not value.strip():
            self.problem(field, "must not be empty")
        return value

    def number(self, value: object, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(field, f"must be a number, got {_kind(value)}")
            return 0.0
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            # An integer only gets here by being beyond a double's range.
            problem = "is out of range" if isinstance(value, int) else "must be a finite number"
            self.problem(field, f"{problem}, got {value}")
            return 0.0
        return number

    def integer(self, value: object, field: str) -> int | None:
        # 3.0 is accepted as 3 (some JSON writers emit every number as a float), as
        # the profile codec does; 1.5 is not.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(field, f"must be a whole number, got {_describe(value)}")
            return None
        if not _INT64_MIN <= value <= _INT64_MAX:
            self.problem(field, f"is out of the 64-bit range, got {value}")
            return None
        return value

    def boolean(self, value: object, field: str) -> bool:
        if not isinstance(value, bool):
            self.problem(field, f"must be true or false, got {_kind(value)}")
            return False
        return value

    def time(self, value: object, field: str) -> datetime:
        if not isinstance(value, str):
            self.problem(field, f"must be a timestamp string, got {_kind(value)}")
            return _NO_TIME
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            self.problem(field, str(exc))
            return _NO_TIME

    def obj(self, value: object, field: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem(field, f"must be an object, got {_kind(value)}")
            return None
        return value

    def strings(self, value: object, field: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(field, f"must be a list of strings, got {_kind(value)}")
            return ()
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(f"{field}[{i}]", f"must be a string, got {_kind(item)}")
            elif not item.strip():
                self.problem(f"{field}[{i}]", "must not be empty")
        return tuple(value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _kind(value: object) -> str:
    kinds: Mapping[type, str] = {
        type(None): "null",
        bool: "a boolean",
        str: "a string",
        list: "a list",
    }
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return kinds.get(type(value), type(value).__name__)


def _describe(value: object) -> str:
    """The kind of a value, or the value itself for a number of the wrong sort (1.5)."""
    if isinstance(value, float):
        return repr(value)
    return _kind(value)
