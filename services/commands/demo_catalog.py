"""`profile-matcher demo-catalog FILE`: write the demo catalog, live from now on."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from services.campaigns.demo import write_demo_catalog
from services.config import add_switch


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="where to write the catalog (JSON)")
    add_switch(
        parser,
        "--keep",
        env="PROFILE_MATCHER_DEMO_CATALOG_KEEP",
        help="leave an existing file alone (for containers)",
    )


def run(args: argparse.Namespace) -> int:
    if args.keep and args.file.exists():
        print(f"{args.file} exists; kept")
        return 0
    write_demo_catalog(args.file, datetime.now(UTC))
    print(f"wrote {args.file}")
    return 0
