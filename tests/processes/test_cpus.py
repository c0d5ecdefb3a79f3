"""`--processes N|auto`: the number, and what auto finds (affinity, cgroup v2 cpu.max)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.processes.cpus import available_cpus, cgroup_cpu_quota, parse_processes


def cgroup_tree(tmp_path: Path, limits: dict[str, str], own: str) -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup with cpu.max files at `limits`' paths, and a
    /proc/self/cgroup naming `own`."""
    root = tmp_path / "cgroup"
    for path, content in limits.items():
        directory = root / path.strip("/")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cpu.max").write_text(content + "\n")
    (root / own.strip("/")).mkdir(parents=True, exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(f"1:cpu:/\n0::{own}\n")
    return root, proc


@pytest.mark.parametrize(
    ("limits", "own", "expected"),
    [
        ({}, "/", None),
        ({"/": "max 100000"}, "/", None),
        ({"/": "150000 100000"}, "/", 2),  # 1.5 CPUs, rounded up
        ({"/": "50000 100000"}, "/", 1),  # half a CPU is still one process
        ({"/pod": "400000 100000", "/pod/box": "200000 100000"}, "/pod/box", 2),
        ({"/pod": "100000 100000", "/pod/box": "max 100000"}, "/pod/box", 1),  # the parent's
        ({"/pod": "garbage"}, "/pod", None),
    ],
)
def test_the_tightest_cpu_max_on_the_way_to_the_root_is_the_quota(
    tmp_path: Path, limits: dict[str, str], own: str, expected: int | None
) -> None:
    root, proc = cgroup_tree(tmp_path, limits, own)
    assert cgroup_cpu_quota(cgroup_root=root, proc_cgroup=proc) == expected


def test_without_cgroup_v2_there_is_no_quota(tmp_path: Path) -> None:
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("4:memory:/x\n1:cpu:/\n")  # v1 only
    assert cgroup_cpu_quota(cgroup_root=tmp_path, proc_cgroup=proc) is None
    assert cgroup_cpu_quota(cgroup_root=tmp_path, proc_cgroup=tmp_path / "missing") is None


def test_auto_is_the_affinity_capped_by_the_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    root, proc = cgroup_tree(tmp_path, {}, "/")
    assert available_cpus(cgroup_root=root, proc_cgroup=proc) == affinity
    root, proc = cgroup_tree(tmp_path / "limited", {"/": "100000 100000"}, "/")
    assert available_cpus(cgroup_root=root, proc_cgroup=proc) == 1
    root, proc = cgroup_tree(tmp_path / "loose", {"/": "6400000 100000"}, "/")
    assert available_cpus(cgroup_root=root, proc_cgroup=proc) == affinity


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), (" 3 ", 3), ("256", 256)])
def test_a_number_of_processes(raw: str, expected: int) -> None:
    assert parse_processes("--processes", raw) == expected


def test_auto_is_at_least_one() -> None:
    assert 1 <= parse_processes("--processes", "AUTO") <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("raw", ["", "two", "1.5", "0", "-2", "257"])
def test_anything_else_is_refused_naming_the_flag(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^--processes: "):
        parse_processes("--processes", raw)
