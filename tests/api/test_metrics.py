"""``/metrics`` on a real server over HTTP: counters fed by the post-commit observers,
shared-state gauges read on scrape, route templates as labels, and the scope it needs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


@tool
def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: sunny"


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: ThreadServer) -> Samples:
    response = httpx.get(server.root_url + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def settle(server: ThreadServer, check: object, timeout: float = 5.0) -> Samples:
    """Scrape until ``check(samples)`` holds (observers run after commit, on their own task)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if check(samples) or time.monotonic() > deadline:  # type: ignore[operator]
            return samples
        time.sleep(0.05)


def test_a_run_is_counted_by_agent_model_and_tool(
    server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    before = scrape(server)
    fake.script(
        FakeOpenAI.tool_calls([("lookup", {"city": "Oslo"})]),
        FakeOpenAI.text("Sunny in Oslo."),
    )
    agent = Agent(name="metrics_weather", model="openai/gpt-4o", tools=[lookup])
    result = runtime.run(agent, "Weather in Oslo?")
    assert result.status == "COMPLETED", result.error

    def done(s: Samples) -> bool:
        return (
            value(s, "agentspan_executions_finished_total", agent="metrics_weather", status="COMPLETED") == 1
        )

    after = settle(server, done)
    assert done(after)
    assert value(after, "agentspan_executions_started_total", agent="metrics_weather") == 1
    model = {"provider": "openai", "model": "openai/gpt-4o"}
    assert (
        value(after, "agentspan_model_calls_total", **model)
        - value(before, "agentspan_model_calls_total", **model)
        == 2
    )
    assert value(after, "agentspan_model_call_duration_seconds_count", **model) >= 2
    assert value(after, "agentspan_tokens_total", model="openai/gpt-4o", type="input") > value(
        before, "agentspan_tokens_total", model="openai/gpt-4o", type="input"
    )
    assert value(after, "agentspan_tool_calls_total", tool="lookup", kind="worker", outcome="completed") == 1
    assert value(after, "agentspan_tool_call_duration_seconds_count", tool="lookup", outcome="completed") == 1
    # Route templates, never raw ids, label the HTTP latency.
    routes = {
        dict(labels)["route"]
        for (name, labels) in after
        if name == "agentspan_http_request_duration_seconds_count"
    }
    assert "/api/agent/start" in routes and "/api/tasks/poll" in routes
    assert not any(result.execution_id in r for r in routes)
    assert value(after, "agentspan_workers_seen") >= 1


def test_shared_state_gauges_come_from_the_store(
    server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(FakeOpenAI.tool_calls([("nobody_serves_this", {})]))
    agent = Agent(name="metrics_stuck", model="openai/gpt-4o", tools=[unserved])
    handle = runtime.start(agent, "go")
    try:
        samples = settle(
            server,
            lambda s: (
                value(s, "agentspan_queue_depth", kind="worker", task="nobody_serves_this", status="pending")
                + value(
                    s, "agentspan_queue_depth", kind="worker", task="nobody_serves_this", status="stalled"
                )
                == 1
            ),
        )
        depth = value(
            samples, "agentspan_queue_depth", kind="worker", task="nobody_serves_this", status="pending"
        )
        stalled = value(
            samples, "agentspan_queue_depth", kind="worker", task="nobody_serves_this", status="stalled"
        )
        assert depth + stalled == 1
        assert value(samples, "agentspan_executions_open", status="RUNNING") >= 1
        assert (
            value(samples, "agentspan_executions_waiting", reason="worker")
            + value(samples, "agentspan_executions_waiting", reason="no_worker")
            >= 1
        )
    finally:
        handle.cancel()


@tool(name="nobody_serves_this", external=True)
def unserved() -> str:
    """Served by no worker in this test."""
    return ""


def test_metrics_need_an_operator_key_and_the_doctor_an_admin_key(tmp_path: Path) -> None:
    server = ThreadServer(Settings(data_dir=tmp_path, auth_token="boot-token-for-metrics")).start()
    try:
        admin = {"Authorization": "Bearer boot-token-for-metrics"}
        made = httpx.post(
            server.api_url + "/keys", json={"name": "prom", "scopes": ["operator"]}, headers=admin
        )
        assert made.status_code == 201, made.text
        operator = {"Authorization": f"Bearer {made.json()['key']}"}
        worker = httpx.post(server.api_url + "/keys", json={"name": "w", "scopes": ["worker"]}, headers=admin)
        as_worker = {"Authorization": f"Bearer {worker.json()['key']}"}

        assert httpx.get(server.root_url + "/metrics").status_code == 401
        assert httpx.get(server.root_url + "/metrics", headers=as_worker).status_code == 403
        assert httpx.get(server.root_url + "/metrics", headers=operator).status_code == 200
        assert httpx.get(server.api_url + "/admin/doctor", headers=operator).status_code == 403
        report = httpx.get(server.api_url + "/admin/doctor", headers=admin)
        assert report.status_code == 200, report.text
        assert report.json()["auth"] == "keys"
    finally:
        server.stop()


def test_the_doctor_says_which_provider_keys_are_present_never_their_values(
    server: ThreadServer, fake: FakeOpenAI
) -> None:
    report = httpx.get(server.api_url + "/admin/doctor", timeout=10)
    assert report.status_code == 200, report.text
    body = report.json()
    providers = {p["provider"]: p for p in body["providers"]}
    assert providers["openai"]["source"] == "environment"  # the fake's key, set by conftest
    assert providers["offline"]["source"] == "not_needed"
    assert "sk-test-not-a-real-key" not in report.text
    assert body["database"] == {
        "kind": "sqlite",
        "schemaVersion": body["database"]["latestSchemaVersion"],
        "latestSchemaVersion": body["database"]["latestSchemaVersion"],
        "reachable": True,
    }
    assert body["auth"] == "open" and body["metricsEnabled"] is True
    assert body["diskFreeBytes"] > 0
