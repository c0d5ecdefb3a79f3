"""The layout rules: transport knows no service of ours but the campaign messages it
translates and defines no flags; every module under services/ does one job in at most
400 lines, with no benchmark figures in its comments. (The import layers themselves are
import-linter's contracts in pyproject.toml, checked by .ci/run.)"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
TRANSPORT = SERVICES / "transport"
# The modules of the transport and wiring layer (the rest follow the same rules
# through their own tests).
WIRING = [
    *sorted(TRANSPORT.glob("*.py")),
    *sorted((SERVICES / "observability").glob("*.py")),
    *sorted((SERVICES / "commands").glob("*.py")),
    *(SERVICES / "matcher" / name for name in ("bootstrap.py", "settings.py", "main.py")),
    *(SERVICES / "matcher" / name for name in ("access.py", "security_flags.py")),
    *(SERVICES / "campaigns" / name for name in ("bootstrap.py", "settings.py", "main.py")),
    SERVICES / "cli.py",
    SERVICES / "config.py",
    SERVICES / "server_flags.py",
]
ALL_MODULES = sorted(SERVICES.rglob("*.py"))
MAX_LINES = 400


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_wiring_modules_exist() -> None:
    assert [relative(p) for p in WIRING if not p.is_file()] == []


@pytest.mark.parametrize("path", sorted(TRANSPORT.glob("*.py")), ids=relative)
def test_transport_knows_no_service_but_the_campaign_messages(path: Path) -> None:
    services = [m for m in imported_modules(path) if m.startswith("profilematcher")]
    if path.name in ("campaign_messages.py", "condition_messages.py"):
        assert services == ["profilematcher.campaigns.v1"]
    else:
        assert services == [], f"{relative(path)} imports {services}"


@pytest.mark.parametrize("path", sorted(TRANSPORT.glob("*.py")), ids=relative)
def test_transport_defines_no_flags(path: Path) -> None:
    flags = {"argparse", "services.config", "services.server_flags"}
    assert flags.isdisjoint(imported_modules(path)), relative(path)


@pytest.mark.parametrize("path", ALL_MODULES, ids=relative)
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{relative(path)}: {lines} lines"


@pytest.mark.parametrize("path", ALL_MODULES, ids=relative)
def test_no_comment_cites_the_benchmarks(path: Path) -> None:
    # The reason stays in the comment; the figures stay in BENCHMARKS.md.
    assert "BENCHMARKS" not in path.read_text(encoding="utf-8"), relative(path)
