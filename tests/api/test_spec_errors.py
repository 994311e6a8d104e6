"""A spec with a bad option is refused at start with a problem document naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.servers import ThreadServer

AGENT = {"name": "checked", "model": "offline/basic"}


def start(server: ThreadServer, **spec: Any) -> dict[str, Any]:
    response = httpx.post(
        server.api_url + "/agent/start", json={"agentConfig": {**AGENT, **spec}, "prompt": "hi"}, timeout=10
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == "invalid_agent"
    return body


@pytest.mark.parametrize(
    ("spec", "field", "hint"),
    [
        (
            {"guardrails": [{"name": "g", "guardrailType": "regex", "patterns": ["x"], "onFail": "explode"}]},
            "agentConfig.guardrails.0.regex.onFail",
            "'retry', 'raise', 'fix' or 'human'",
        ),
        (
            {"guardrails": [{"name": "g", "guardrailType": "regex", "patterns": ["(unclosed"]}]},
            "agentConfig.guardrails.0.regex.patterns",
            "not a valid regular expression",
        ),
        (
            {"termination": {"type": "max_message", "maxMessages": 0}},
            "agentConfig.termination.max_message.maxMessages",
            "greater than or equal to 1",
        ),
        (
            {"tools": [{"name": "weather", "toolType": "http", "config": {"method": "GET"}}]},
            "agentConfig.tools.0.http.config.url",
            "Field required",
        ),
    ],
)
def test_a_bad_option_names_its_field(
    server: ThreadServer, spec: dict[str, Any], field: str, hint: str
) -> None:
    detail = start(server, **spec)["detail"]
    assert field in detail and hint in detail


def test_a_newer_spec_version_is_refused_clearly(server: ThreadServer) -> None:
    detail = start(server, schemaVersion=99)["detail"]
    assert "newer than this server supports" in detail


def test_output_guardrails_on_a_team_without_a_model_are_refused(server: ThreadServer) -> None:
    members = [{"name": "a", "model": "offline/basic"}, {"name": "b", "model": "offline/basic"}]
    rails = [{"name": "g", "guardrailType": "regex", "patterns": ["x"]}]
    detail = start(server, strategy="parallel", agents=members, guardrails=rails)["detail"]
    assert "output guardrails" in detail and "'parallel' team" in detail
