"""`profile-matcher`: the single entry point for running things."""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Sequence

from services.campaigns import main as campaigns_main
from services.commands import audience, demo_catalog, health, import_profiles, migrate_store, up
from services.config import add_flag
from services.matcher import main as matcher_main


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps help between words only, so that a long environment variable's name stays
    whole and can be copied from --help."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(
            " ".join(text.split()), width, break_long_words=False, break_on_hyphens=False
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="profile-matcher",
        formatter_class=_HelpFormatter,
        description="Player profiles matched against live-ops campaigns, over gRPC.",
    )
    add_flag(
        parser,
        "--log-level",
        env="PROFILE_MATCHER_LOG_LEVEL",
        default="INFO",
        convert=str,
        help="DEBUG, INFO, WARNING or ERROR",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module, help_text in (
        ("up", up, "the one-command demo: campaign service and matcher with demo data"),
        ("matcher", matcher_main, "run the matcher (ProfileMatcherService and ProfileService)"),
        ("campaigns", campaigns_main, "run the campaign service over a catalog file"),
        ("import", import_profiles, "load profiles from a JSON or JSON-lines file into a store"),
        ("health", health, "check a server's grpc.health.v1 status (exit 0 when SERVING)"),
        ("demo-catalog", demo_catalog, "write the demo catalog, with windows live from now"),
        ("audience", audience, "count the stored players a catalog campaign reaches"),
        ("migrate-store", migrate_store, "move a MongoDB store to the layout keyed by player id"),
    ):
        sub = commands.add_parser(
            name, help=help_text, description=help_text, formatter_class=_HelpFormatter
        )
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
