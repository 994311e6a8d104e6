"""Schemathesis against a real server's own ``/api/openapi.json``.

Every operation gets a bounded number of generated requests, valid and invalid ones;
each answer must be a documented status (never a 5xx) with the documented content type,
and its body must conform to the documented schema. The long-polls (``waitMs``) are
bounded in the loaded description so the run stays short; path parameters half the time
name executions that exist (terminal ones for the SSE stream, which would otherwise
follow a live execution until it ends), so 200 answers are checked too, not only 404s.

The operations are listed at collection time from the app's description (one test per
operation); the test then loads the description the running server serves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agentspan.server.app import create_app
from agentspan.server.settings import Settings

from support.servers import ThreadServer

EXAMPLES = 50
"""Generated requests per operation and mode (the whole run stays well under two minutes)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
"""Not ``positive_data_acceptance``: the description cannot say every rule an agent spec
must follow (names that resolve, strategies that need a model), so a request that is
valid by the schema may still be answered 400 ``invalid_agent``."""
WAIT_MS_IN_RUN = 200
"""The longest ``waitMs`` the run asks for (long-polls answer when it is up)."""
SLOW_SECONDS = 4.0
TOKEN = "schemathesis-bootstrap-admin-token"
"""The server's bootstrap admin key: every request carries it, so a key the run creates
(``POST /api/keys``, which makes keys required) does not lock the rest of the run out."""
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_DESCRIPTION = create_app(Settings()).api.openapi()
OPERATIONS = [
    pytest.param(method.upper(), path, mode, id=f"{mode.value}-{method.upper()} {path}")
    for path, operations in _DESCRIPTION["paths"].items()
    for method, operation in operations.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # Invalid requests need something to make invalid: a body, or a parameter that is
    # not a free-form path segment (any string is a valid execution id).
    if mode is GenerationMode.POSITIVE
    or "requestBody" in operation
    or any(p["in"] != "path" for p in operation.get("parameters", []))
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, dict[str, list[str]]]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzzed")
    srv = ThreadServer(Settings(data_dir=data_dir, worker_lease_seconds=2.0, auth_token=TOKEN)).start()
    try:
        yield srv, _seed(srv)
    finally:
        srv.stop()


def _seed(srv: ThreadServer) -> dict[str, list[str]]:
    """Executions the generated requests may name: terminal ones and live ones."""
    terminal: list[str] = []
    live: list[str] = []
    for n in range(3):
        agent: dict[str, Any] = {"name": f"done{n}", "model": "offline/basic"}
        started = httpx.post(
            srv.api_url + "/agent/start?waitMs=10000",
            json={"agentConfig": agent, "prompt": "hi"},
            headers=AUTH,
            timeout=15,
        ).json()
        terminal.append(started["executionId"])
    tool = {"name": "needs_worker", "inputSchema": {"type": "object", "properties": {}}}
    for n in range(2):
        agent = {"name": f"live{n}", "model": "offline/basic", "tools": [tool]}  # waits for a worker
        started = httpx.post(
            srv.api_url + "/agent/start",
            json={"agentConfig": agent, "prompt": "use needs_worker"},
            headers=AUTH,
            timeout=15,
        ).json()
        live.append(started["executionId"])
    return {"terminal": terminal, "live": live}


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[ThreadServer, dict[str, list[str]]]) -> Any:
    srv, _ = fuzzed
    raw = httpx.get(srv.api_url + "/openapi.json", headers=AUTH, timeout=5).json()
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=srv.root_url, request_timeout=2 * SLOW_SECONDS)
    return schema


def _wait_limits(method: str, path: str) -> tuple[int, int]:
    """The largest valid ``waitMs`` of an operation: as a query parameter, in the body."""
    operation = _DESCRIPTION["paths"][path][method.lower()]
    query = [p["schema"]["maximum"] for p in operation.get("parameters", []) if p["name"] == "waitMs"]
    ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    name = ref.get("$ref", "").rpartition("/")[2]
    body = _DESCRIPTION["components"]["schemas"].get(name, {}).get("properties", {}).get("waitMs", {})
    return (query[0] if query else -1), body.get("maximum", -1)


def _bound_waits(case: Case[Any], limits: tuple[int, int]) -> None:
    """A valid ``waitMs`` (query or body) cut to ``WAIT_MS_IN_RUN``; a poll gets one (its
    default is a 20 s long-poll). Invalid values are left for the server to refuse."""
    holders: tuple[Any, Any] = (case.query, case.body)
    for holder, limit in zip(holders, limits, strict=True):
        if not isinstance(holder, dict):
            continue
        wait = holder.get("waitMs")
        # JSON Schema counts 5000.0 as an integer too, and so does the server.
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait == int(wait):
            if 0 <= wait <= limit:
                holder["waitMs"] = min(int(wait), WAIT_MS_IN_RUN)
        elif wait is None and limit > WAIT_MS_IN_RUN and holder is case.body:
            holder["waitMs"] = WAIT_MS_IN_RUN


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_operation(
    method: str,
    path: str,
    mode: GenerationMode,
    api_schema: Any,
    fuzzed: tuple[ThreadServer, dict[str, list[str]]],
) -> None:
    _, known = fuzzed
    operation = api_schema[path][method]
    pool = known["terminal"] if "/stream/" in path else known["terminal"] + known["live"]
    session = requests.Session()
    limits = _wait_limits(method, path)

    @given(
        case=operation.as_strategy(generation_mode=mode), existing=st.booleans(), pick=st.sampled_from(pool)
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Any], existing: bool, pick: str) -> None:
        if existing and case.path_parameters and "execution_id" in case.path_parameters:
            case.path_parameters["execution_id"] = pick
        _bound_waits(case, limits)
        started = time.monotonic()
        response = case.call(session=session, headers=AUTH)
        # Every wait is bounded and every stream names an ended execution: an answer that
        # takes longer (a stream cut at the request timeout) is a request that hangs.
        assert time.monotonic() - started < SLOW_SECONDS, case.as_curl_command()
        case.validate_response(response, checks=CHECKS, headers=AUTH)

    try:
        run()
    finally:
        session.close()
