"""bench/serving_path runs: this checkout beside itself, both answering alike (no timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("batch", [[], ["--batch", "3"]])
def test_both_checkouts_answer_alike_and_are_timed(batch: list[str]) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.serving_path", str(CHECKOUT)),
            *("--players", "20", "--rounds", "2", "--calls", "3", *batch),
        ],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = done.stdout
    assert "warning" not in out
    assert "BatchGetClientConfig of 3" in out if batch else "GetClientConfig," in out
    rows = [line for line in out.splitlines() if line.startswith(("| other |", "| this |"))]
    assert len(rows) == 2
    assert "this / other time per call: median" in out
