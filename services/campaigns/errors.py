"""Errors of the campaign service that have no generic counterpart in the domain.

CatalogChanged and TooManyWatchers are kinds of the domain's generic
PreconditionFailed and Overloaded, which services.transport.status maps to
FAILED_PRECONDITION and RESOURCE_EXHAUSTED; CatalogError is an unusable catalog file.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.domain.errors import Overloaded, PreconditionFailed


class CatalogChanged(PreconditionFailed):
    """A paged listing's catalog version is gone; the caller must start the listing again."""

    def __init__(self, listed_version: str, current_version: str) -> None:
        super().__init__(
            f"page_token: the catalog changed since the listing began (version "
            f"{listed_version}, now {current_version}); list again without page_token"
        )
        self.listed_version = listed_version
        self.current_version = current_version


class TooManyWatchers(Overloaded):
    """Every stream slot is taken; more would starve unary calls of worker threads."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"too many open WatchCampaigns streams (limit {limit}); retry later or poll "
            "ListCampaigns with known_version"
        )
        self.limit = limit


class CatalogError(Exception):
    """A catalog that cannot be used; `problems` holds one complete message per problem.

    Not an RPC error: the catalog file is read at start-up (a bad one stops the process)
    and on reload (a bad one is logged and the last good catalog stays in service)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)
