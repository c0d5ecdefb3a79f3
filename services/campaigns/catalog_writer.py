"""Campaigns written as a catalog file, in the users' format (the sample's shape and key
order), which `catalog_file` reads back to the same campaigns."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.campaigns.experiment_documents import experiment_fields, groups_document
from services.domain.campaign import Campaign
from services.domain.conditions import Condition
from services.domain.experiment import Group
from services.domain.timefmt import format_timestamp


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
    if c.where is not None:
        matchers["where"] = c.where.to_document()
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
    doc.update(experiment_fields(c))
    return doc


def catalog_to_json(
    campaigns: Iterable[Campaign],
    segments: Iterable[Condition] = (),
    groups: Iterable[Group] = (),
) -> str:
    """Catalog file text for `campaigns`, readable by `catalog_file.parse_catalog`: a
    list of campaigns, or with segments or groups the catalog object."""
    documents = [campaign_to_document(c) for c in campaigns]
    sections: dict[str, Any] = {}
    if named := {segment.name or "": segment.to_document() for segment in segments}:
        sections["segments"] = named
    if groups_doc := groups_document(groups):
        sections["groups"] = groups_doc
    if sections:
        return json.dumps({**sections, "campaigns": documents}, indent=4) + "\n"
    return json.dumps(documents, indent=4) + "\n"


def write_catalog_file(
    path: Path,
    campaigns: Iterable[Campaign],
    segments: Iterable[Condition] = (),
    groups: Iterable[Group] = (),
) -> Path:
    """Writes `campaigns` to `path` as a catalog file and returns `path`.

    The file is replaced in one rename, so a server already following `path` never
    reads it half-written.
    """
    path = Path(path)
    text = catalog_to_json(campaigns, segments, groups)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file private; a catalog is read by a server that may run
        # as another user (a container), so it gets the usual file mode.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
