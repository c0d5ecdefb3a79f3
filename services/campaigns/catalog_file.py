"""Reading a catalog file: its text to campaigns, or every problem at once.

The three steps have modules of their own: `catalog_json` decodes the text into
campaign documents, `campaign_validation` checks each into a domain Campaign (and
that names are unique across the catalog), `catalog_writer` writes files back. This
module runs the first two over a whole file and orders the problems as the file does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from services.campaigns.campaign_validation import (
    campaign_from_document,
    campaign_location,
    duplicate_name_problems,
)
from services.campaigns.catalog_json import read_sections
from services.campaigns.catalog_segments import segments_from_value
from services.campaigns.errors import CatalogError
from services.campaigns.group_validation import groups_from_value, unknown_group_problems
from services.domain.campaign import Campaign
from services.domain.conditions import Condition
from services.domain.experiment import Group
from services.domain.json_text import LONE_SURROGATE, lone_surrogate_path


class CatalogParts(NamedTuple):
    """What a catalog file holds; `build_catalog(*parts)` makes the catalog of it."""

    campaigns: tuple[Campaign, ...]
    # Its segments, in name order.
    segments: tuple[Condition, ...] = ()
    # Its groups, in name order.
    groups: tuple[Group, ...] = ()


def load_catalog_file(path: str | os.PathLike[str]) -> tuple[Campaign, ...]:
    """Reads and parses a catalog file; an unreadable file is a CatalogError too."""
    return load_catalog_parts(path).campaigns


def load_catalog_parts(path: str | os.PathLike[str]) -> CatalogParts:
    """Reads and parses a catalog file, campaigns, segments and groups; an unreadable
    file is a CatalogError too."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise CatalogError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
    return parse_catalog_parts(text, source)


def parse_catalog(text: str | bytes, source: str) -> tuple[Campaign, ...]:
    """Campaigns of a catalog file's text, in file order; CatalogError lists every problem."""
    return parse_catalog_parts(text, source).campaigns


def parse_catalog_parts(text: str | bytes, source: str) -> CatalogParts:
    """Campaigns (in file order), segments and groups (in name order) of a catalog
    file's text; CatalogError lists every problem, the segments' then the groups' first."""
    docs, sections = read_sections(text, source)
    definitions, segments, segment_problems = segments_from_value(sections.get("segments"), source)
    group_problems: list[str] = []
    try:
        groups = groups_from_value(sections.get("groups"), source)
    except CatalogError as exc:
        groups, group_problems = (), exc.problems
    # (campaign index, message): reported in file order, whichever check found them.
    problems: list[tuple[int, str]] = []
    campaigns: list[Campaign] = []
    for index, item in enumerate(docs):
        if (path := lone_surrogate_path(item)) is not None:
            # Checked first: no other message may quote the text (no output can show it).
            where = campaign_location(source, index, item if isinstance(item, Mapping) else None)
            problems.append((index, f"{where}: {path}: {LONE_SURROGATE}"))
            continue
        try:
            campaigns.append(
                campaign_from_document(item, index=index, source=source, segments=definitions)
            )
        except CatalogError as exc:
            problems.extend((index, problem) for problem in exc.problems)

    problems.extend(duplicate_name_problems(docs, source))
    if not group_problems:
        problems.extend(unknown_group_problems(docs, groups, source))
    if problems or segment_problems or group_problems:
        raise CatalogError(
            segment_problems
            + group_problems
            + [problem for _, problem in sorted(problems, key=lambda p: p[0])]
        )
    return CatalogParts(tuple(campaigns), segments, groups)
