"""The examples run as documented (``make demo`` runs examples/demo.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.servers import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGENTSPAN_"))}
    env.update({"DEMO_PORT": str(free_port()), "DEMO_DATA_DIR": str(tmp_path / "demo")})
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "model: offline/basic" in out
    assert "sending SIGKILL" in out and "approved issue_refund" in out
    assert "generate_report ran 2 times" in out
    keys = re.findall(r"attempt=(\d) key=(\S+)", out)
    assert [a for a, _ in keys] == ["1", "2"] and keys[0][1] == keys[1][1]
    assert re.search(r"execution id: [0-9a-f-]{36}", out)
    assert "Finish reason: stop" in out
