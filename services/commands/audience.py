"""`profile-matcher audience`: how many stored players a catalog campaign reaches.

The same count as AudienceService.EstimateAudience, run here against a store and a
catalog file, with no server: MongoDB counts on the server, the embedded store is
scanned in this process (progress in the log).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from services.campaigns.catalog_file import load_catalog_parts
from services.campaigns.errors import CatalogError
from services.config import add_flag
from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable, DomainError
from services.domain.timefmt import format_timestamp, parse_timestamp
from services.matcher.audience import DEFAULT_AUDIENCE_TIMEOUT, AudienceEstimate, EstimateAudience
from services.matching.compiled import CompiledCatalog
from services.storage.base import AudienceCounts
from services.storage.factory import describe_store, open_store
from services.storage.mongo_audience import DEFAULT_READ_PREFERENCE, READ_PREFERENCES
from services.transport.status import client_message


def configure(parser: argparse.ArgumentParser) -> None:
    flags: list[tuple[str, str, object, type, str]] = [
        ("--store", "PROFILE_MATCHER_STORE", "", str,
         "where the profiles are: mongodb://... or a file path for the embedded store"),
        ("--catalog", "PROFILE_MATCHER_CATALOG", "", str, "the campaign catalog file"),
        ("--timeout", "PROFILE_MATCHER_AUDIENCE_TIMEOUT", DEFAULT_AUDIENCE_TIMEOUT, float,
         "longest the count may take, in seconds"),
        ("--audience-read-preference", "PROFILE_MATCHER_AUDIENCE_READ_PREFERENCE",
         DEFAULT_READ_PREFERENCE, str,
         "where MongoDB runs the count: " + ", ".join(READ_PREFERENCES)),
        ("--campaign", "PROFILE_MATCHER_AUDIENCE_CAMPAIGN", "", str,
         "GAME/NAME of the campaign to count for"),
        ("--game", "PROFILE_MATCHER_AUDIENCE_GAME", "", str, "the campaign's game (with --name)"),
        ("--name", "PROFILE_MATCHER_AUDIENCE_NAME", "", str, "the campaign's name (with --game)"),
        ("--at", "PROFILE_MATCHER_AUDIENCE_AT", "", str,
         "count as of this time (RFC 3339); empty: now"),
    ]  # fmt: skip
    for flag, env, default, convert, help_text in flags:
        add_flag(parser, flag, env=env, default=default, convert=convert, help=help_text)


def run(args: argparse.Namespace) -> int:
    """0 with the counts printed; 1 when the store could not count; 2 for bad arguments,
    an unusable catalog or store, or an unknown campaign."""
    try:
        game, name = _campaign(args)
        at = parse_timestamp(args.at) if args.at else None
        if not args.catalog:
            raise ValueError("--catalog: the catalog file is required")
        parts = load_catalog_parts(args.catalog)
        catalog = Catalog(args.catalog, parts.campaigns, parts.segments)
    except (ValueError, CatalogError) as exc:
        return _fail(str(exc), 2)
    try:
        store = open_store(
            args.store or None,
            timeout=args.timeout,
            audience_read_preference=args.audience_read_preference,
        )
    except (ValueError, DependencyUnavailable) as exc:
        return _fail(str(exc), 2)
    try:
        if not isinstance(store, AudienceCounts):
            return _fail(f"{describe_store(args.store or None)} cannot count audiences", 2)
        compiled = CompiledCatalog(catalog)
        audiences = EstimateAudience(
            store,
            _Fixed(compiled),
            lambda: datetime.now(UTC),
            timeout=args.timeout,
        )
        estimate = audiences.of_catalog_campaign(game, name, at)
    except DependencyUnavailable as exc:
        return _fail(f"{client_message(exc)} ({exc})", 1)
    except DomainError as exc:
        return _fail(str(exc), 2)
    finally:
        store.close()
    print(report(estimate, f"{game}/{name}", describe_store(args.store or None)))
    return 0


def report(estimate: AudienceEstimate, campaign: str, store: str) -> str:
    """The counts and percentages, as the command prints them."""
    lines = [
        f"campaign {campaign} at {format_timestamp(estimate.at)}"
        f" (live then: {'yes' if estimate.live else 'no'}); store: {store}",
        f"matched  {estimate.matched:>12,}  {_percent(estimate.matched, estimate.total)}"
        + ("" if not estimate.unevaluable else "  (an upper bound)"),
        f"scanned  {estimate.scanned:>12,}  {_percent(estimate.scanned, estimate.total)}",
        f"total    {estimate.total:>12,}",
    ]
    if estimate.unevaluable:
        lines.append("not evaluable in the store, counted as if they held:")
        lines.extend(f"  {clause}" for clause in estimate.unevaluable)
    return "\n".join(lines)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:6.2f}%" if whole else "     -"


def _campaign(args: argparse.Namespace) -> tuple[str, str]:
    if args.campaign:
        if args.game or args.name:
            raise ValueError("--campaign GAME/NAME, or --game and --name, not both")
        game, slash, name = args.campaign.partition("/")
        if not slash or not game or not name:
            raise ValueError(f"--campaign: want GAME/NAME, got {args.campaign!r}")
        return game, name
    if not (args.game and args.name):
        raise ValueError("name the campaign: --campaign GAME/NAME, or --game and --name")
    return str(args.game), str(args.name)


def _fail(message: str, code: int) -> int:
    print(f"profile-matcher audience: {message}", file=sys.stderr)
    return code


class _Fixed:
    """The catalog file's campaigns as the use case's catalog source."""

    def __init__(self, catalog: CompiledCatalog) -> None:
        self._catalog = catalog

    def current(self, *, timeout: float | None = None) -> CompiledCatalog:
        return self._catalog
