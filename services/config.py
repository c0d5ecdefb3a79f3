"""Flags with environment-variable defaults, shared by every command."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
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


def parse_bool(raw: str) -> bool:
    match raw.strip().lower():
        case "1" | "true" | "yes" | "on":
            return True
        case "0" | "false" | "no" | "off":
            return False
    raise ValueError(raw)


def add_switch(parser: argparse.ArgumentParser, flag: str, *, env: str, help: str) -> None:
    """`--flag`/`--no-flag`, defaulting to $ENV (true|false), then to off."""
    parser.add_argument(
        flag,
        action=argparse.BooleanOptionalAction,
        default=env_default(env, False, parse_bool),
        help=f"{help} (env {env}=true|false; default False)",
    )


def optional_path(raw: str) -> Path | None:
    """A path flag's value; empty: none."""
    return Path(raw) if raw else None
