"""`profile-matcher import FILE`: stream profiles from a file into a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.config import add_flag
from services.domain.errors import DependencyUnavailable, DomainError
from services.domain.json_text import printable
from services.profiles.import_file import iter_profile_documents
from services.profiles.import_profiles import import_profiles
from services.storage.factory import describe_store, open_store


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a JSON list of profiles, or one per line")
    add_flag(
        parser,
        "--store",
        env="PROFILE_MATCHER_STORE",
        default="",
        convert=str,
        help="where to import: mongodb://... or a file path for the embedded store",
    )


def run(args: argparse.Namespace) -> int:
    """0 when every record was imported, 1 when some were rejected, 2 when the import
    could not run (no file, unreadable text, no store)."""
    if not args.store:
        print(
            "note: no --store given; importing into a throw-away in-memory store "
            "(this only validates the file)",
            file=sys.stderr,
        )
    try:
        store = open_store(args.store or None)
    except (ValueError, DependencyUnavailable) as exc:
        print(f"profile-matcher import: {exc}", file=sys.stderr)
        return 2
    try:
        with args.file.open(encoding="utf-8") as stream:
            report = import_profiles(store, iter_profile_documents(stream))
    except (OSError, UnicodeDecodeError, DomainError) as exc:
        print(f"profile-matcher import: {args.file}: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(
        f"{describe_store(args.store or None)}: created {report.created}, "
        f"updated {report.updated}, rejected {report.rejected}"
    )
    for rejection in report.rejections:
        who = f" ({printable(rejection.player_id)})" if rejection.player_id else ""
        # Counted from 1, as the "line N" in a reason is.
        print(f"  {args.file}: record {rejection.index + 1}{who}: {rejection.reason}")
    return 1 if report.rejected else 0
