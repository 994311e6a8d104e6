"""``make install``'s pip step (scripts/install.py): a line per phase in a log, pip's own
output and exit status when it fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install.py"


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--no-index", *args], capture_output=True, text=True, timeout=120
    )


def test_a_log_gets_one_line_per_phase_and_a_count() -> None:
    done = install("pytest")  # installed already: pip resolves and finishes
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("[install]")]
    assert lines[0].startswith("[install] starting pip")
    assert lines[1].startswith("[install] resolving and downloading")
    assert lines[-1].startswith("[install] done: ") and int(lines[-1].split()[2]) >= 2  # pytest and its deps
    assert "\r" not in done.stderr  # no terminal control codes off a terminal


def test_a_failure_shows_what_pip_said_and_keeps_its_exit_status() -> None:
    failed = install("agentspan-no-such-package")
    assert failed.returncode == 1
    assert "No matching distribution found for agentspan-no-such-package" in failed.stderr
    assert failed.stderr.rstrip().endswith("[install] pip failed (exit 1): its output is above")
