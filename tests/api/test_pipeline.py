"""One HTTP pipeline: both stacks answer alike, errors map as documented, middleware sees all.

The fast paths (``api/fast.py``) and their FastAPI twins (``api/routes.py``, ``api/sse.py``)
call the same service methods and the same error mapping (``api/errors.py``); these tests
send the same requests to a server with the fast paths and to the FastAPI app alone.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from agentspan.protocol.errors import ErrorCode
from agentspan.server.api.errors import EVERY_REQUEST, STATUS, problem_from
from agentspan.server.api.routes import AUTHENTICATED
from agentspan.server.app import ASGIApp, Middleware, create_app
from agentspan.server.errors import (
    Conflict,
    DomainError,
    Internal,
    InvalidAgent,
    InvalidState,
    LeaseLost,
    NotFound,
    ValidationFailed,
)
from agentspan.server.http import protocol_class
from agentspan.server.settings import Settings
from agentspan.server.store.base import ConflictError

from support.servers import free_port, wait_healthy

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
AGENT = {"name": "pipeline_agent", "model": "offline/basic"}


@contextmanager
def serving(app: ASGIApp | FastAPI) -> Iterator[str]:
    """Serve ``app`` over real HTTP in a thread; yields the API's base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", http=protocol_class()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}/api"
    finally:
        server.should_exit = True
        thread.join(10)


def _settings(tmp: Path) -> Settings:
    return Settings(data_dir=tmp, worker_lease_seconds=2.0, no_worker_after_seconds=1.0)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``fast``: the whole server; ``fastapi``: the FastAPI app alone (the twins)."""
    whole = create_app(_settings(tmp_path_factory.mktemp("fast")))
    alone = create_app(_settings(tmp_path_factory.mktemp("fastapi"))).api
    with serving(whole) as fast, serving(alone) as fastapi:
        yield {"fast": fast, "fastapi": fastapi}


def _send(base: str, method: str, path: str, body: Any = None, raw: str | None = None) -> httpx.Response:
    if raw is not None:
        headers = {"content-type": "application/json"}
        return httpx.request(method, base + path, content=raw, headers=headers, timeout=10)
    return httpx.request(method, base + path, json=body, timeout=10)


# (method, path, JSON body or raw text, status, code, whether the detail is the same text)
SAME_REQUESTS: list[tuple[str, str, Any, int, ErrorCode, bool]] = [
    ("POST", "/agent/start", '{"agentConfig": ', 400, ErrorCode.INVALID_JSON, False),
    ("POST", "/agent/start", {"agentConfig": {"name": "bad name!"}}, 400, ErrorCode.INVALID_AGENT, True),
    ("POST", "/agent/start", {"agentConfig": AGENT}, 400, ErrorCode.VALIDATION_FAILED, True),
    (
        "POST",
        "/agent/start",
        {"agentConfig": {"name": "nomodel"}, "prompt": "hi"},
        400,
        ErrorCode.INVALID_AGENT,
        True,
    ),
    ("POST", "/agent/start?waitMs=-1", {"agentConfig": AGENT}, 400, ErrorCode.VALIDATION_FAILED, False),
    ("POST", "/tasks/poll", {"names": []}, 400, ErrorCode.VALIDATION_FAILED, True),
    # pydantic words a JSON body's errors ("array") and a dict's ("list") differently
    ("POST", "/tasks/poll", {"names": "one"}, 400, ErrorCode.VALIDATION_FAILED, False),
    ("POST", "/tasks/nope/complete", {"leaseId": "x", "output": 1}, 409, ErrorCode.LEASE_LOST, True),
    ("POST", "/tasks/nope/fail", {"leaseId": "x", "error": "e"}, 409, ErrorCode.LEASE_LOST, True),
    ("POST", "/tasks/nope/heartbeat", {"leaseId": "x"}, 409, ErrorCode.LEASE_LOST, True),
    ("POST", "/tasks/nope/heartbeat", {}, 400, ErrorCode.VALIDATION_FAILED, True),
    ("GET", "/agent/stream/nope", None, 404, ErrorCode.EXECUTION_NOT_FOUND, True),
    ("GET", "/agent/stream/nope?lastEventId=x", None, 400, ErrorCode.VALIDATION_FAILED, False),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "same_detail"), SAME_REQUESTS)
def test_both_stacks_answer_the_same_problem(
    stacks: dict[str, str],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: ErrorCode,
    same_detail: bool,
) -> None:
    answers = []
    for base in (stacks["fast"], stacks["fastapi"]):
        raw = body if isinstance(body, str) else None
        response = _send(base, method, path, None if raw else body, raw)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        document = response.json()
        assert document["code"] == code and document["status"] == status and document["detail"]
        assert STATUS[code] == status  # the documented status of this code
        answers.append(document if same_detail else {**document, "detail": ""})
    assert answers[0] == answers[1]


def test_both_stacks_serve_the_same_run(stacks: dict[str, str]) -> None:
    """Start-and-wait through each stack gives the same shape of answer."""
    shapes = []
    for base in (stacks["fast"], stacks["fastapi"]):
        response = _send(base, "POST", "/agent/start?waitMs=10000", {"agentConfig": AGENT, "prompt": "hi"})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["result"]["status"] == "COMPLETED"
        shapes.append((sorted(answer), sorted(answer["result"])))
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"approved": 1}, "approved"),
        ({"approved": False, "reason": 5}, "reason"),
        ({"selected": []}, "selected"),
    ],
)
def test_respond_with_a_wrong_type_names_the_field(stacks: dict[str, str], body: Any, field: str) -> None:
    base = stacks["fast"]
    started = _send(base, "POST", "/agent/start", {"agentConfig": AGENT, "prompt": "hello"}).json()
    response = _send(base, "POST", f"/agent/{started['executionId']}/respond", body)
    assert response.status_code == 400, response.text
    document = response.json()
    assert document["code"] == "validation_failed"
    assert document["detail"].startswith(f"{field}: "), document["detail"]


def test_respond_keeps_accepting_what_it_accepted(stacks: dict[str, str]) -> None:
    """Yes/no words, aliases and unknown keys still pass parsing (then meet the engine)."""
    base = stacks["fast"]
    started = _send(base, "POST", "/agent/start", {"agentConfig": AGENT, "prompt": "hello"}).json()
    url = f"/agent/{started['executionId']}/respond"
    for body in (
        {"approved": "yes", "taskRefName": "c1", "decidedBy": "ann", "note": {"any": "thing"}},
        {"approved": False, "reason": "no", "callId": "c1", "decided_by": "kept as an extra"},
    ):
        response = _send(base, "POST", url, body)
        assert response.status_code == 409 and response.json()["code"] in ("not_waiting", "invalid_state")
    response = _send(base, "POST", url, {"approved": "maybe"})
    assert response.status_code == 400 and "waits for an approval" in response.json()["detail"]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("x"), ErrorCode.EXECUTION_NOT_FOUND),
        (ValidationFailed("x"), ErrorCode.VALIDATION_FAILED),
        (InvalidAgent("x"), ErrorCode.INVALID_AGENT),
        (InvalidState("x"), ErrorCode.INVALID_STATE),
        (InvalidState("x", ErrorCode.NOT_WAITING), ErrorCode.NOT_WAITING),
        (InvalidState("x", ErrorCode.ALREADY_DECIDED), ErrorCode.ALREADY_DECIDED),
        (LeaseLost("x"), ErrorCode.LEASE_LOST),
        (Conflict("x"), ErrorCode.CONFLICT),
        (ConflictError("raced"), ErrorCode.CONFLICT),
        (Internal("x"), ErrorCode.INTERNAL),
        (RuntimeError("boom"), ErrorCode.INTERNAL),
    ],
)
def test_each_error_maps_to_its_documented_status(error: Exception, code: ErrorCode) -> None:
    status, mapped, detail = problem_from(error)
    assert mapped == code and status == STATUS[code] == _documented_status()[code]
    assert detail


def test_every_code_has_one_status_in_the_docs_and_in_openapi(stacks: dict[str, str]) -> None:
    assert set(STATUS) == set(ErrorCode)
    documented = _documented_status()
    assert {c for c in ErrorCode if c not in documented} <= {ErrorCode.TASK_NOT_FOUND, ErrorCode.UNAUTHORIZED}
    spec = httpx.get(stacks["fast"] + "/openapi.json", timeout=5).json()
    for code, status in STATUS.items():
        assert f"| `{code}` | {status} |" in spec["info"]["description"]
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert "422" not in responses, path  # bad input is a 400 problem document
            for status, response in responses.items():
                for code in re.findall(r"`([a-z_]+)`", response["description"].partition("one of:")[2]):
                    assert STATUS[ErrorCode(code)] == int(status), (path, code)


def test_every_operation_documents_what_any_request_may_be_answered() -> None:
    """The guard's refusals and a fault on every operation, a JSON body's on every write,
    authentication's (``routes.AUTHENTICATED``) on every ``/api`` operation; problems are
    ``application/problem+json``; the stream's 200 is ``text/event-stream``."""
    spec = create_app(Settings()).api.openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            expected = {*EVERY_REQUEST, *(AUTHENTICATED if path.startswith("/api/") else ())}
            if method in ("post", "put", "patch"):
                expected.add(ErrorCode.UNSUPPORTED_MEDIA_TYPE)
            listed: set[ErrorCode] = set()
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, status)
                    codes = re.findall(r"`([a-z_]+)`", response["description"].partition("one of:")[2])
                    listed |= {ErrorCode(code) for code in codes}
            assert expected <= listed, (method, path, expected - listed)
    stream = spec["paths"]["/api/agent/stream/{execution_id}"]["get"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"]


def test_an_error_from_below_is_a_domain_error_without_a_status() -> None:
    error = LeaseLost("gone")
    assert isinstance(error, DomainError) and not hasattr(error, "status")


def test_middleware_sees_the_fast_paths_and_fastapi(tmp_path: Path) -> None:
    seen: list[str] = []

    def recorder(app: ASGIApp, _: Settings) -> ASGIApp:
        async def record(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await app(scope, receive, send)

        return record

    middleware: list[Middleware] = [recorder]
    with serving(create_app(_settings(tmp_path), middleware=middleware)) as base:
        _send(base, "POST", "/tasks/poll", {"names": ["nobody"], "waitMs": 0})  # a fast path
        httpx.get(base + "/agent/executions", timeout=5)  # FastAPI
    assert "/api/tasks/poll" in seen and "/api/agent/executions" in seen and "/health" in seen


def _documented_status() -> dict[ErrorCode, int]:
    """The code table of docs/api.md (rows with a status)."""
    found: dict[ErrorCode, int] = {}
    for code, status in re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", DOCS.read_text(), re.MULTILINE):
        if code in ErrorCode.__members__.values():
            found[ErrorCode(code)] = int(status)
    return found
