"""`profile-matcher migrate-store`: moves a MongoDB store to the layout keyed by player id.

The steps and what each leaves behind if interrupted are in
services/storage/mongo_migration.py; the help below says the same in short.
"""

from __future__ import annotations

import argparse
import sys

import pymongo

from services.config import add_flag
from services.domain.errors import DependencyUnavailable
from services.storage.factory import MONGODB_SCHEMES, describe_store, mongo_database
from services.storage.mongo_errors import mongo_errors
from services.storage.mongo_migration import (
    DEFAULT_BATCH,
    TARGET_SUFFIX,
    Migration,
    MigrationRefused,
)
from services.storage.mongo_store import DEFAULT_COLLECTION

# Finding the server gets at most this long, so a wrong host fails fast even when each
# round trip of the copy may take longer.
_CONNECT_LIMIT = 10.0

EPILOG = (
    "Copies every profile of the 'profiles' collection into 'profiles_migrating' keyed"
    " by player id (_id), in batches of ordered bulk upserts, printing copied/total after"
    " each; counts both exactly; then renames 'profiles' to"
    " 'profiles_pre_migration_<UTC time>' (kept as a backup) and 'profiles_migrating' to"
    " 'profiles'. Stop every writer (old matchers, which write active campaigns while"
    " serving, and imports) first: writes made during the copy to players already copied"
    " are not carried over. Safe to interrupt: the copy does not write 'profiles' and a"
    " rerun resumes after the last player copied;"
    " after a failed count nothing is switched; between the two renames (a moment)"
    " there is no 'profiles', and a rerun finishes the switch. On a store already in the"
    " new layout it says so and exits 0. Exit 0 when done or nothing to do, 1 when the"
    " collections need an operator (the message says what to check), 2 for bad"
    " arguments or when MongoDB cannot be used (rerun to resume)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    add_flag(
        parser,
        "--store",
        env="PROFILE_MATCHER_STORE",
        default="",
        convert=str,
        help="the MongoDB store to migrate: mongodb://... or mongodb+srv://..., its path"
        " naming the database (default profilematcher)",
    )
    add_flag(
        parser,
        "--batch",
        env="PROFILE_MATCHER_MIGRATE_BATCH",
        default=DEFAULT_BATCH,
        convert=int,
        help="profiles per bulk write (progress is printed after each)",
    )
    add_flag(
        parser,
        "--timeout",
        env="PROFILE_MATCHER_MIGRATE_TIMEOUT",
        default=120.0,
        convert=float,
        help="longest wait, in seconds, for one round trip (a batch, a count, a rename)",
    )


def run(args: argparse.Namespace) -> int:
    """0 when migrated or already in the new layout; 1 when an operator must decide;
    2 for bad arguments, a bad URI, or MongoDB unreachable or failing."""
    uri: str = args.store
    if not uri.startswith(MONGODB_SCHEMES):
        return _fail(
            "--store: give the MongoDB store to migrate (mongodb://... or mongodb+srv://...);"
            " the embedded store needs no migration",
            2,
        )
    if args.batch < 1:
        return _fail(f"--batch: must be at least 1, got {args.batch}", 2)
    if not 0 < args.timeout < float("inf"):
        return _fail(f"--timeout: must be more than 0 seconds, got {args.timeout:g}", 2)
    try:
        client, database = mongo_database(
            uri, timeout=min(args.timeout, _CONNECT_LIMIT), operation_timeout=args.timeout
        )
    except ValueError as exc:
        return _fail(str(exc), 2)
    where = describe_store(uri)
    migration = Migration(database, DEFAULT_COLLECTION, batch=args.batch)
    try:
        with mongo_errors("ping the server"), pymongo.timeout(min(args.timeout, _CONNECT_LIMIT)):
            database.command("ping")
        outcome = migration.run(lambda line: print(line, flush=True))
    except DependencyUnavailable as exc:
        return _fail(f"{where}: {exc}{_HINTS.get(migration.phase, '')}", 2)
    except MigrationRefused as exc:
        return _fail(f"{where}: {exc}", 1)
    finally:
        client.close()
    print(f"{where}: {outcome.message}")
    return 0


_HINTS = {
    "indexes": "; nothing was switched: if MongoDB refused an index, create it on"
    f" {DEFAULT_COLLECTION}{TARGET_SUFFIX} by hand under the same name; then run the same"
    " command again",
    "copy": "; nothing was switched: run the same command again to resume the copy",
    "verify": "; nothing was switched: run the same command again",
    "switch": "; the switch-over was interrupted: run the same command again to finish it",
}


def _fail(message: str, code: int) -> int:
    print(f"profile-matcher migrate-store: {message}", file=sys.stderr)
    return code
