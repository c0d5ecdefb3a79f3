"""Flags with environment-variable defaults, shared by every command."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def env_default(name: str, default: T, convert: Callable[[str], T]) -> T:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return convert(raw)
    except ValueError:
        raise SystemExit(f"environment variable {name}={raw!r} is not valid") from None


def add_flag(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    env: str,
    default: T,
    convert: Callable[[str], T],
    help: str,
) -> None:
    """`--flag`, defaulting to $ENV, then to `default`; the help shows both."""
    parser.add_argument(
        flag,
        type=convert,
        default=env_default(env, default, convert),
        help=f"{help} (env {env}; default {default!r})",
    )
