"""``agentspan doctor`` against a real server over HTTP, and its verdicts (pure)."""

from __future__ import annotations

import json

import pytest

from agentspan.cli import main
from agentspan.cli._doctor import FULL_DISK_BYTES, checks
from agentspan.protocol.ops import DatabaseStatus, DoctorReport, ProviderKeyStatus

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer, free_port


def test_doctor_prints_one_line_per_check_and_exits_zero(
    server: ThreadServer, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--server-url", server.root_url, "doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[1] for line in lines]
    assert names[:3] == ["server", "version", "database"]
    assert {"workers", "disk", "auth", "observability"} <= set(names)
    assert any(line.startswith("ok") and "OPENAI_API_KEY from the environment" in line for line in lines)
    assert "sk-test-not-a-real-key" not in "\n".join(lines)


def test_doctor_json_and_a_server_that_is_down(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--server-url", url, "doctor", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["checks"][0]["name"] == "server" and doc["checks"][0]["verdict"] == "fail"
    assert "cannot reach" in doc["checks"][0]["message"]


def _report(**changes: object) -> DoctorReport:
    base = DoctorReport(
        version="1.0",
        database=DatabaseStatus(kind="sqlite", schema_version=5, latest_schema_version=5, reachable=True),
        providers=[ProviderKeyStatus(provider="openai", key_names=["OPENAI_API_KEY"], source="absent")],
        workers_seen=0,
        worker_window_seconds=60,
        pending_worker_tasks=0,
        stalled_worker_tasks=0,
        data_dir="/data",
        disk_free_bytes=10 << 30,
        auth="open",
        metrics_enabled=True,
        tracing_enabled=False,
    )
    return base.model_copy(update=changes)


def verdicts(report: DoctorReport) -> dict[str, str]:
    return {c.name: c.verdict for c in checks(report, "http://x", "1.0")}


def test_a_healthy_report_has_no_failure_and_a_missing_key_is_a_warning() -> None:
    found = verdicts(_report())
    assert "fail" not in found.values()
    assert found["provider keys"] == "warn"


def test_a_key_exported_after_the_server_started_says_how_to_fix_it() -> None:
    found = checks(_report(), "http://x", "1.0", {"OPENAI_API_KEY", "PATH"})
    (unseen,) = [c for c in found if c.name == "key openai"]
    assert unseen.verdict == "warn"
    assert "OPENAI_API_KEY is set in this shell but the server does not see it" in unseen.message
    assert "agentspan credentials set OPENAI_API_KEY" in unseen.message
    assert "agentspan server stop && agentspan server start" in unseen.message
    # Not set in the shell either: only the general hint.
    assert [c.name for c in checks(_report(), "http://x", "1.0", {"PATH"}) if c.name.startswith("key")] == []


def test_what_makes_the_doctor_fail() -> None:
    behind = DatabaseStatus(kind="sqlite", schema_version=4, latest_schema_version=5, reachable=True)
    assert verdicts(_report(database=behind))["database"] == "fail"
    down = DatabaseStatus(
        kind="postgresql", schema_version=5, latest_schema_version=5, reachable=False, error="x"
    )
    assert verdicts(_report(database=down))["database"] == "fail"
    assert verdicts(_report(stalled_worker_tasks=2, pending_worker_tasks=2))["workers"] == "fail"
    assert verdicts(_report(pending_worker_tasks=2))["workers"] == "warn"
    assert verdicts(_report(disk_free_bytes=FULL_DISK_BYTES - 1))["disk"] == "fail"
    assert verdicts(_report(version="0.9"))["version"] == "warn"
