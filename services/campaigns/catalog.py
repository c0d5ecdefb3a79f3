"""Building one immutable catalog version from loaded campaigns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from services.campaigns.catalog_segments import segments_document
from services.campaigns.catalog_writer import campaign_to_document
from services.campaigns.experiment_documents import groups_document
from services.domain.campaign import Campaign, Catalog
from services.domain.conditions import Condition
from services.domain.experiment import Group

VERSION_LENGTH = 12


def listing_order(c: Campaign) -> tuple[float, str, str]:
    """Highest priority first, ties by game then name (the order ListCampaigns promises)."""
    return (-c.priority, c.game, c.name)


def catalog_version(
    campaigns: Iterable[Campaign],
    segments: Iterable[Condition] = (),
    groups: Iterable[Group] = (),
) -> str:
    """A short hash of the campaigns' canonical content.

    Identical content keeps its version whatever the file's layout, key order, time
    notation or campaign order, so rewriting a file with no real change does not make
    every client refetch. A catalog without segments and groups hashes its campaigns
    alone, as before either existed, and a section that is empty is left out of the
    hash, so a catalog's version stays what it was before the other section existed.
    """
    documents = [campaign_to_document(c) for c in sorted(campaigns, key=listing_order)]
    sections: dict[str, object] = {}
    if named := segments_document(segments):
        sections["segments"] = named
    if groups_doc := groups_document(groups):
        sections["groups"] = groups_doc
    canonical = json.dumps(
        {"campaigns": documents, **sections} if sections else documents,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_LENGTH]


def build_catalog(
    campaigns: Iterable[Campaign],
    segments: Iterable[Condition] = (),
    groups: Iterable[Group] = (),
) -> Catalog:
    ordered = tuple(sorted(campaigns, key=listing_order))
    named = tuple(sorted(segments, key=lambda s: s.name or ""))
    grouped = tuple(sorted(groups, key=lambda g: g.name))
    return Catalog(
        version=catalog_version(ordered, named, grouped),
        campaigns=ordered,
        segments=named,
        groups=grouped,
    )
