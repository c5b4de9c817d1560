"""The providers benchmark still runs end to end (its figures are printed, never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_and_reports_a_result_line(tmp_path: Path) -> None:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    result = subprocess.run(
        [sys.executable, "bench/providers.py", "--streams", "5", "--tokens", "3", "--ramp-ms", "0"],
        cwd=ROOT,
        env={**keep, "PORTAL_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT ")
    figures = json.loads(last.removeprefix("RESULT "))
    assert figures["streams"] == 5 and figures["errors"] == 0
    assert set(figures) == {"streams", "errors", "overhead_p95_ms", "ttft_p95_ms"}
