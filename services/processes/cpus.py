"""What `--processes` means: a whole number, or `auto` for the CPUs this process may use."""

from __future__ import annotations

import math
import os
from pathlib import Path

# A sanity bound, far above any machine this runs on: a typo such as 1000 is refused
# instead of forking a thousand servers.
MAX_PROCESSES = 256
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def parse_processes(flag: str, raw: str) -> int:
    """`raw` as a number of processes; ValueError naming `flag` otherwise."""
    text = raw.strip().lower()
    if text == "auto":
        return available_cpus()
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"{flag}: want a whole number of processes or auto, got {raw!r}") from None
    if not 1 <= count <= MAX_PROCESSES:
        raise ValueError(f"{flag}: must be between 1 and {MAX_PROCESSES}, got {count}")
    return count


def available_cpus(*, cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """The CPUs this process may run on (its affinity), fewer when a cgroup v2 CPU
    quota allows less (a container's CPU limit, rounded up); at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root=cgroup_root, proc_cgroup=proc_cgroup)
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, cpus)


def cgroup_cpu_quota(*, cgroup_root: Path, proc_cgroup: Path) -> int | None:
    """The tightest `cpu.max` quota from this process's cgroup up to the root, in whole
    CPUs rounded up; None when no level sets one (or there is no cgroup v2)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    # cgroup v2 is the line "0::/path"; under a cgroup namespace the path is "/" and
    # the mount's root is the container's own cgroup, whose cpu.max is its limit.
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    if path is None:
        return None
    tightest: int | None = None
    directory = cgroup_root / path.strip("/")
    while True:
        limit = _cpu_max(directory / "cpu.max")
        if limit is not None:
            tightest = limit if tightest is None else min(tightest, limit)
        if directory == cgroup_root or cgroup_root not in directory.parents:
            return tightest
        directory = directory.parent


def _cpu_max(path: Path) -> int | None:
    """`cpu.max` holds "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit."""
    try:
        fields = path.read_text().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))
