"""The catalog's `groups` checked into domain Groups, and campaigns' group names
checked against them.

    {"groups": {"popup": {"max_active": 1, "holdout_percent": 5}}, "campaigns": [...]}

Both fields of a group are optional: without `max_active` the group has no limit,
without `holdout_percent` no holdout. Problems name the file, the group and the field:

    catalog.json: group 'popup': max_active: must be at least 1, got 0
    catalog.json: campaign #3 'spring_sale': group: unknown group 'popupp' (groups: popup)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.campaigns.campaign_validation import campaign_location
from services.campaigns.catalog_json import duplicate_keys
from services.campaigns.errors import CatalogError
from services.domain.experiment import Group, percent_threshold
from services.domain.json_values import kind_of

GROUP_FIELDS = ("max_active", "holdout_percent")
_INT32_MAX = 2**31 - 1


def groups_from_value(value: object, source: str) -> tuple[Group, ...]:
    """The groups of a catalog's `groups` value (None: no groups), in name order;
    CatalogError lists every problem."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise CatalogError(
            [f"{source}: groups: must be an object of group name to group, got {kind_of(value)}"]
        )
    problems = [
        f"{source}: groups.{key}: is written more than once" for key in duplicate_keys(value)
    ]
    groups: list[Group] = []
    for name, doc in value.items():
        where = f"{source}: group {name!r}"
        if not name.strip():
            problems.append(f"{source}: groups: a group name must not be empty")
            continue
        found, group = _group(name, doc)
        problems.extend(f"{where}: {problem}" for problem in found)
        if group is not None:
            groups.append(group)
    if problems:
        raise CatalogError(problems)
    return tuple(sorted(groups, key=lambda g: g.name))


def unknown_group_problems(
    docs: Sequence[object], groups: Sequence[Group], source: str
) -> list[tuple[int, str]]:
    """(index, problem) for each campaign document naming a group the catalog lacks."""
    known = {group.name for group in groups}
    listed = ", ".join(sorted(known)) if known else "the catalog defines none"
    problems: list[tuple[int, str]] = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, Mapping):
            continue
        name = doc.get("group")
        if isinstance(name, str) and name.strip() and name not in known:
            where = campaign_location(source, index, doc)
            problems.append((index, f"{where}: group: unknown group {name!r} (groups: {listed})"))
    return problems


def _group(name: str, doc: object) -> tuple[list[str], Group | None]:
    if not isinstance(doc, Mapping):
        return [f"must be an object, got {kind_of(doc)}"], None
    problems = [f"{key}: is written more than once" for key in duplicate_keys(doc)]
    problems += [
        f"{key}: unknown field (expected one of: {', '.join(GROUP_FIELDS)})"
        for key in doc
        if key not in GROUP_FIELDS
    ]
    max_active = 0
    limit = doc.get("max_active")
    if limit is not None:
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        if isinstance(limit, bool) or not isinstance(limit, int):
            problems.append(f"max_active: must be a whole number, got {kind_of(limit)}")
        elif not 1 <= limit <= _INT32_MAX:
            problems.append(
                f"max_active: must be at least 1 (leave it out for no limit), got {limit}"
            )
        else:
            max_active = limit
    holdout = 0
    percent = doc.get("holdout_percent")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            problems.append(f"holdout_percent: must be a number, got {kind_of(percent)}")
        else:
            try:
                holdout = percent_threshold(percent)
            except ValueError as exc:
                problems.append(f"holdout_percent: {exc}")
    return problems, None if problems else Group(name, max_active, holdout)
