"""`profile-matcher` as a subprocess, with its log lines collected as they come."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
WORKER_LINE = re.compile(r"^\[worker (\d+) pid (\d+)\] ")
SERVING = re.compile(r"(\d+) worker processes serving on port (\d+)")


class CliProcess:
    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        module: str = "services.cli",
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 20.0) -> re.Match[str]:
        """The first log line matching `pattern`, once there is one."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                found = regex.search(line)
                if found:
                    return found
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                for line in self.lines:
                    if found := regex.search(line):
                        return found
                raise AssertionError(f"exited {self.process.returncode}:\n{self.text}")
            time.sleep(0.02)
        raise AssertionError(f"no line like {regex.pattern!r} in:\n{self.text}")

    def serving_port(self) -> int:
        return int(self.wait_for(SERVING).group(2))

    def worker_pids(self) -> dict[int, int]:
        """Worker index -> pid of its latest process, from the lines each one logs."""
        pids: dict[int, int] = {}
        for line in self.lines:
            if match := WORKER_LINE.match(line):
                pids[int(match.group(1))] = int(match.group(2))
        return pids

    def stop(self, timeout: float = 20.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels` (exactly one)."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{val}"' in head for key, val in labels.items()):
            found.append(float(value))
    assert len(found) == 1, f"{name} {labels}: {found}\n{text}"
    return found[0]
