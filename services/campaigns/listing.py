"""ListCampaigns' rules, free of gRPC: filtering and paging over one catalog version.

A page token is opaque to callers. It carries the catalog version, the offset of the
next page and a fingerprint of the filters, so the pages of one listing all come from
one version (a newer version fails with CatalogChanged) and a token cannot be reused
with other filters, where its offset would mean nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from services.campaigns.errors import CatalogChanged
from services.domain.campaign import Campaign, Catalog
from services.domain.errors import InvalidInput
from services.domain.timefmt import format_timestamp


@dataclass(frozen=True, slots=True)
class Page:
    campaigns: tuple[Campaign, ...]
    # Empty on the last page.
    next_page_token: str


def select(
    catalog: Catalog, *, game: str = "", active_at: datetime | None = None
) -> tuple[Campaign, ...]:
    """The catalog's campaigns of `game` (all when empty) live at `active_at` (any when None)."""
    return tuple(
        c
        for c in catalog.campaigns
        if (not game or c.game == game) and (active_at is None or c.is_live(active_at))
    )


def list_page(
    catalog: Catalog,
    *,
    game: str = "",
    active_at: datetime | None = None,
    page_size: int = 0,
    page_token: str = "",
) -> Page:
    """One page of the filtered catalog, in catalog (listing) order.

    Raises InvalidInput for a negative page_size or a token that is not ours or was
    made for other filters, and CatalogChanged when the token's version is gone.
    """
    if page_size < 0:
        raise InvalidInput("page_size", f"must not be negative, got {page_size}")
    query = _fingerprint(game, active_at)
    offset = 0
    if page_token:
        version, offset, token_query = _decode(page_token)
        if token_query != query:
            raise InvalidInput(
                "page_token", "was made for a different game or active_at; send the same filters"
            )
        if version != catalog.version:
            raise CatalogChanged(version, catalog.version)
    matching = select(catalog, game=game, active_at=active_at)
    if offset > len(matching):
        raise InvalidInput("page_token", "is not a token from a previous ListCampaigns call")
    end = len(matching) if page_size == 0 else min(offset + page_size, len(matching))
    next_token = _encode(catalog.version, end, query) if end < len(matching) else ""
    return Page(matching[offset:end], next_token)


def _fingerprint(game: str, active_at: datetime | None) -> str:
    text = f"{game}\0{'' if active_at is None else format_timestamp(active_at)}"
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _encode(version: str, offset: int, query: str) -> str:
    payload = json.dumps({"v": version, "o": offset, "q": query}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _decode(token: str) -> tuple[str, int, str]:
    try:
        payload = json.loads(base64.b64decode(token, altchars=b"-_", validate=True))
    except (binascii.Error, ValueError):
        payload = None
    if isinstance(payload, dict):
        version, offset, query = payload.get("v"), payload.get("o"), payload.get("q")
        if (
            isinstance(version, str)
            and isinstance(query, str)
            and isinstance(offset, int)
            and not isinstance(offset, bool)
            and offset > 0
        ):
            return version, offset, query
    raise InvalidInput("page_token", "is not a token from a previous ListCampaigns call")
