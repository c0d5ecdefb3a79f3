"""Errors of the campaign service that have no generic counterpart in the domain.

The servicer maps them to status codes (FAILED_PRECONDITION, RESOURCE_EXHAUSTED) next
to the generic domain errors, in its one error-mapping function.
"""

from __future__ import annotations

from services.domain.errors import DomainError


class CatalogChanged(DomainError):
    """A paged listing's catalog version is gone; the caller must start the listing again."""

    def __init__(self, listed_version: str, current_version: str) -> None:
        super().__init__(
            f"page_token: the catalog changed since the listing began (version "
            f"{listed_version}, now {current_version}); list again without page_token"
        )
        self.listed_version = listed_version
        self.current_version = current_version


class TooManyWatchers(DomainError):
    """Every stream slot is taken; more would starve unary calls of worker threads."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"too many open WatchCampaigns streams (limit {limit}); retry later or poll "
            "ListCampaigns with known_version"
        )
        self.limit = limit
