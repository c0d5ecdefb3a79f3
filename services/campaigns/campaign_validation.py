"""Campaign documents checked into domain Campaigns, every problem reported at once.

A document is one campaign in the users' format (the sample `data/campaign.json`),
as `catalog_json` decoded it. Each problem names the file, the campaign (number,
from 1, and name) and the field, because operators fix a catalog by hand and one
round trip per typo would be slow:

    catalog.json: campaign #1 'mycampaign': matchers.level: min 5 is greater than max 3

Optional fields (`last_updated`, the matchers and their lists) may also be written as
`null`, which means the same as leaving them out. A key written twice in one object is
an error rather than silently "last one wins". A campaign name is unique across the
whole catalog, in every game: profiles store matched campaigns by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.campaigns.catalog_json import duplicate_keys
from services.campaigns.catalog_segments import SegmentDefinitions, where_from_value
from services.campaigns.errors import CatalogError
from services.campaigns.experiment_validation import EXPERIMENT_FIELDS, experiment_from_document
from services.domain.campaign import Campaign, LevelRange
from services.domain.json_values import fits_int64, kind_of
from services.domain.timefmt import format_timestamp, parse_timestamp

# Document keys in the sample's order; problems are reported in it.
CAMPAIGN_FIELDS = (
    "game",
    "name",
    "priority",
    "matchers",
    "start_date",
    "end_date",
    "enabled",
    "last_updated",
    *EXPERIMENT_FIELDS,
)
REQUIRED_FIELDS = tuple(
    f for f in CAMPAIGN_FIELDS if f != "last_updated" and f not in EXPERIMENT_FIELDS
)
MATCHER_FIELDS = ("level", "has", "does_not_have", "where")
LEVEL_FIELDS = ("min", "max")
HAS_FIELDS = ("country", "items")
DOES_NOT_HAVE_FIELDS = ("items",)

# Stands in for a time that failed to parse, so checking can go on; never returned.
_NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def campaign_from_document(
    doc: object,
    *,
    index: int = 0,
    source: str = "<input>",
    segments: SegmentDefinitions | None = None,
) -> Campaign:
    """The campaign of one catalog document; CatalogError lists every problem in it.

    `index` is the campaign's position in the file, from 0; messages count from 1.
    `segments`: the catalog's, which `matchers.where` may use."""
    if not isinstance(doc, Mapping):
        raise CatalogError(
            [f"{campaign_location(source, index, None)}: must be a JSON object, got {kind_of(doc)}"]
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
    condition = None
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
        condition, where_problem = where_from_value(matchers.get("where"), segments or {})
        if where_problem is not None:
            check.problem(*where_problem)

    experiment = experiment_from_document(check, doc)

    if check.problems:
        where = campaign_location(source, index, doc)
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
        rollout=experiment.rollout,
        variants=experiment.variants,
        payload=experiment.payload,
        group=experiment.group,
        schedule=experiment.schedule,
        where=condition,
    )


def duplicate_name_problems(docs: Sequence[object], source: str) -> list[tuple[int, str]]:
    """(index, problem) for each campaign whose name an earlier one already uses, in any
    game: `active_campaigns` holds names, so a name must identify one campaign.

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
        where = campaign_location(source, index, item)
        problem = f"{where}: name: {name!r} is already used by campaign #{earlier + 1}"
        if isinstance(earlier_game, str):
            problem += f" of game {earlier_game!r}"
        if earlier_game != game:
            problem += " (names must be unique across games)"
        problems.append((index, problem))
    return problems


def campaign_location(source: str, index: int, doc: Mapping[str, Any] | None) -> str:
    """How messages name a campaign: `catalog.json: campaign #2 'spring_sale'`."""
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
        for key in duplicate_keys(doc):
            self.problem(_join(prefix, key), "is written more than once")
        for key in doc:
            if key not in allowed:
                self.problem(
                    _join(prefix, str(key)),
                    f"unknown field (expected one of: {', '.join(allowed)})",
                )

    def string(self, value: object, field: str) -> str:
        if not isinstance(value, str):
            self.problem(field, f"must be a string, got {kind_of(value)}")
            return ""
        if not value.strip():
            self.problem(field, "must not be empty")
        return value

    def number(self, value: object, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(field, f"must be a number, got {kind_of(value)}")
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
        if not fits_int64(value):
            self.problem(field, f"is out of the 64-bit range, got {value}")
            return None
        return value

    def boolean(self, value: object, field: str) -> bool:
        if not isinstance(value, bool):
            self.problem(field, f"must be true or false, got {kind_of(value)}")
            return False
        return value

    def time(self, value: object, field: str) -> datetime:
        if not isinstance(value, str):
            self.problem(field, f"must be a timestamp string, got {kind_of(value)}")
            return _NO_TIME
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            self.problem(field, str(exc))
            return _NO_TIME

    def obj(self, value: object, field: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem(field, f"must be an object, got {kind_of(value)}")
            return None
        return value

    def strings(self, value: object, field: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(field, f"must be a list of strings, got {kind_of(value)}")
            return ()
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(f"{field}[{i}]", f"must be a string, got {kind_of(item)}")
            elif not item.strip():
                self.problem(f"{field}[{i}]", "must not be empty")
        return tuple(value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _describe(value: object) -> str:
    """The kind of a value, or the value itself for a number of the wrong sort (1.5)."""
    if isinstance(value, float):
        return repr(value)
    return kind_of(value)
