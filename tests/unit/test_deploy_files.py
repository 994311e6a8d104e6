"""The container files (Dockerfile, deploy/docker-compose.yml, deploy/nginx.conf).

Docker cannot run where these tests run, so they check what can be checked without it:
the files say what docs/deploy.md says they do, and agree with the code (ports, the SSE
heartbeat and long-poll limits the load balancer must outlast). The compose file is also
parsed as YAML when PyYAML is installed; otherwise that check is skipped, visibly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import annotated_types
import pytest

from agentspan.protocol.api import PollRequest
from agentspan.server.api.sse import HEARTBEAT_SECONDS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
NGINX = ROOT / "deploy" / "nginx.conf"
REPLICAS = ("agentspan-1", "agentspan-2")


def instruction(name: str) -> list[str]:
    """Every ``NAME ...`` line of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line[len(name) :].strip() for line in text.splitlines() if line.startswith(name + " ")]


def test_the_image_runs_the_server_on_all_interfaces_as_a_non_root_user() -> None:
    assert instruction("FROM") == ["python:3.11-slim"]
    assert json.loads(instruction("ENTRYPOINT")[0]) == ["agentspan", "server", "run", "--host", "0.0.0.0"]
    assert instruction("EXPOSE") == ["6767"]
    assert instruction("VOLUME") == ['["/data"]']
    assert instruction("USER") == ["agentspan"]
    assert any('pip install "/tmp/agentspan[postgres,mcp,pdf]"' in run for run in instruction("RUN"))


def test_the_image_copies_files_that_exist() -> None:
    for copy in instruction("COPY"):
        *sources, _target = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), source


def test_the_health_check_asks_the_server() -> None:
    (check,) = instruction("HEALTHCHECK")
    command = json.loads(check.split("CMD", 1)[1])
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<healthcheck>", "exec")  # valid Python
    assert "urllib.request.urlopen('http://127.0.0.1:6767/health'" in command[2]


def test_compose_runs_two_replicas_on_postgres_behind_nginx() -> None:
    text = COMPOSE.read_text()
    for line in (
        "image: postgres:16",
        "- pgdata:/var/lib/postgresql/data",
        "- AGENTSPAN_DATABASE_URL=postgresql://agentspan:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@postgres:5432/agentspan",
        # server run refuses 0.0.0.0 without it; :? makes compose refuse to start instead.
        "- AGENTSPAN_AUTH_TOKEN=${AGENTSPAN_AUTH_TOKEN:?set AGENTSPAN_AUTH_TOKEN}",
        "agentspan-1: *agentspan",
        "agentspan-2: *agentspan",
        "- ./nginx.conf:/etc/nginx/nginx.conf:ro",
        '- "127.0.0.1:6767:80"',
    ):
        assert line in text, line
    assert "\t" not in text  # YAML forbids tabs for indentation


def test_compose_parses_as_yaml() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed: compose file checked line by line only")
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert set(services) == {"postgres", *REPLICAS, "lb"}
    for name in REPLICAS:
        env = services[name]["environment"]
        assert any(e.startswith("AGENTSPAN_DATABASE_URL=postgresql://") for e in env)
        assert any(e.startswith("AGENTSPAN_AUTH_TOKEN=") for e in env)
        assert "ports" not in services[name]  # reachable only through the load balancer
    assert services["lb"]["volumes"] == ["./nginx.conf:/etc/nginx/nginx.conf:ro"]


def test_nginx_sends_to_both_replicas_without_buffering() -> None:
    text = NGINX.read_text()
    for name in REPLICAS:
        assert re.search(rf"^\s*server {name}:6767 resolve\b", text, re.M), name
    assert "proxy_buffering off;" in text
    assert "proxy_pass http://agentspan;" in text
    assert text.count("{") == text.count("}")


def longest_poll_seconds() -> float:
    (limit,) = [
        m.le for m in PollRequest.model_fields["wait_ms"].metadata if isinstance(m, annotated_types.Le)
    ]
    assert isinstance(limit, int)
    return limit / 1000


def test_nginx_outlasts_long_polls_and_stream_heartbeats() -> None:
    text = NGINX.read_text()
    (read_timeout,) = re.findall(r"proxy_read_timeout (\d+)s;", text)
    assert int(read_timeout) > 2 * max(longest_poll_seconds(), HEARTBEAT_SECONDS)
    assert "proxy_send_timeout" in text
