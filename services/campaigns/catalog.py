"""Building one immutable catalog version from loaded campaigns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from services.campaigns.catalog_writer import campaign_to_document
from services.campaigns.experiment_documents import groups_document
from services.domain.campaign import Campaign, Catalog
from services.domain.experiment import Group

VERSION_LENGTH = 12


def listing_order(c: Campaign) -> tuple[float, str, str]:
    """Highest priority first, ties by game then name (the order ListCampaigns promises)."""
    return (-c.priority, c.game, c.name)


def catalog_version(campaigns: Iterable[Campaign], groups: Iterable[Group] = ()) -> str:
    """A short hash of the campaigns' canonical content.

    Identical content keeps its version whatever the file's layout, key order, time
    notation or campaign order, so rewriting a file with no real change does not make
    every client refetch. A catalog without groups hashes its campaigns alone, as
    before groups existed, so its version stays what it was.
    """
    documents = [campaign_to_document(c) for c in sorted(campaigns, key=listing_order)]
    groups_doc = groups_document(groups)
    canonical = json.dumps(
        {"campaigns": documents, "groups": groups_doc} if groups_doc else documents,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_LENGTH]


def build_catalog(campaigns: Iterable[Campaign], groups: Iterable[Group] = ()) -> Catalog:
    ordered = tuple(sorted(campaigns, key=listing_order))
    named = tuple(sorted(groups, key=lambda g: g.name))
    return Catalog(version=catalog_version(ordered, named), campaigns=ordered, groups=named)
