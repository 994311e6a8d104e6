"""A canary provider key must never leave the server's memory.

A real server process runs with ``OPENAI_API_KEY=sk-canary-<random>`` and the fake OpenAI
endpoint as its operator-configured ``OPENAI_BASE_URL``. The fake echoes the
``Authorization`` header it receives (so the key it got) in error bodies, in a non-JSON
error page, in an error event inside a stream, in answers, in streamed answer text and
in tool-call arguments. Executions go through a success, a refused key (401), retried
429/5xx errors, errors long enough that the length limit cuts through the key, tool
calls, a worker failure and streamed replies. Then the canary must not appear in any byte
of the data directory (SQLite database, ``-wal``, ``-shm``, logs), in any row of the
PostgreSQL tables (when ``AGENTSPAN_TEST_DATABASE_URL`` is set), in any event (the events
API and the SSE stream, live model text included), in any API response, or in any task
payload a worker was given. Every request carries the server's bootstrap admin key
(``AGENTSPAN_AUTH_TOKEN``, a second canary), which must not appear anywhere either.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.server.providers._common import MAX_ERROR_TEXT

from fakes.openai_server import ECHO, FakeOpenAI, FakeReply
from support.servers import ServerProcess

pytestmark = pytest.mark.e2e
PG_URL = os.environ.get("AGENTSPAN_TEST_DATABASE_URL", "")
MODEL = "openai/gpt-4o-mini"
TOOL = {
    "name": "lookup",
    "description": "Look something up.",
    "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
}


class Seen:
    """Everything the server said to its clients, as text, to search for the canary."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url
        self.texts: list[tuple[str, str]] = []
        self.auth = {"Authorization": f"Bearer {token}"}
        self.client = httpx.Client(timeout=30, headers=self.auth)

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = self.client.request(method, self.api_url + path, json=body)
        self.texts.append((f"{method} {path}", response.text))
        return response

    def record(self, where: str, text: str) -> None:
        self.texts.append((where, text))


def _start(seen: Seen, name: str, prompt: str, *, tools: bool = False) -> str:
    agent: dict[str, Any] = {"name": name, "model": MODEL}
    if tools:
        agent["tools"] = [TOOL]
    started = seen.call("POST", "/agent/start", {"agentConfig": agent, "prompt": prompt})
    assert started.status_code == 200, started.text
    execution_id: str = started.json()["executionId"]
    return execution_id


def _finish(seen: Seen, execution_id: str) -> dict[str, Any]:
    detail = seen.call("GET", f"/agent/execution/{execution_id}?waitMs=30000&includeEvents=true")
    body: dict[str, Any] = detail.json()
    assert body["status"] in ("COMPLETED", "FAILED"), body
    seen.call("GET", f"/agent/{execution_id}/status")
    seen.call("GET", f"/agent/executions/{execution_id}/events")
    with seen.client.stream("GET", f"{seen.api_url}/agent/stream/{execution_id}") as stream:
        seen.record(f"SSE replay {execution_id}", stream.read().decode())
    return body


def _task(seen: Seen) -> dict[str, Any]:
    polled = seen.call("POST", "/tasks/poll", {"names": ["lookup"], "waitMs": 15000, "workerId": "w"})
    tasks: list[dict[str, Any]] = polled.json()["tasks"]
    assert tasks, "no task for the worker"
    seen.record("task payload", json.dumps(tasks[0]))
    return tasks[0]


def _follow(seen: Seen, execution_id: str) -> threading.Thread:
    """An SSE subscriber with live text (deltas) on, so the server streams model replies."""

    def read() -> None:
        url = f"{seen.api_url}/agent/stream/{execution_id}"
        with httpx.stream("GET", url, headers=seen.auth, timeout=60) as stream:
            seen.record(f"SSE live {execution_id}", stream.read().decode())

    follower = threading.Thread(target=read, daemon=True)
    follower.start()
    return follower


def _drive(seen: Seen, fake: FakeOpenAI, key: str) -> list[str]:
    """Every path a provider key could take out of the server; returns the error texts."""
    errors: list[str] = []
    # A plain success whose answer echoes the key.
    fake.script(FakeOpenAI.text(f"Here is what you sent me: {ECHO}."))
    _finish(seen, _start(seen, "canary_ok", "hello"))
    # A refused key (not retryable), echoed the way OpenAI's "Incorrect API key" does.
    fake.script(FakeOpenAI.error(401, f"Incorrect API key provided: {ECHO}. Find your key at ..."))
    errors.append(_finish(seen, _start(seen, "canary_401", "hello"))["error"])
    # Retried errors (429, 500, a non-JSON 502 page), then an answer.
    fake.script(
        FakeOpenAI.error(429, f"Rate limited for {ECHO}", retry_after=0),
        FakeOpenAI.error(500, f"upstream failed for {ECHO}", retry_after=0),
        FakeReply(status=502, raw_body=f"<html>bad gateway for {ECHO}</html>", retry_after=0),
        FakeOpenAI.text(f"recovered {ECHO}"),
    )
    _finish(seen, _start(seen, "canary_retry", "hello"))
    # Errors long enough that the length limit cuts through the key, at several points.
    for kept in (5, len(key) // 2, len(key) - 2):  # key characters before the cut
        padding = "x" * (MAX_ERROR_TEXT - 3 - len("Bearer ") - kept - 1)
        fake.script(FakeOpenAI.error(400, f"{padding} {ECHO} and more text after the key"))
        errors.append(_finish(seen, _start(seen, f"canary_cut{kept}", "hello"))["error"])
    # A tool call whose arguments echo the key; the worker echoes its input back.
    fake.script(
        FakeOpenAI.tool_calls([("lookup", {"q": f"the key is {ECHO}"})]),
        FakeOpenAI.text(f"tool said something; you sent {ECHO}"),
    )
    execution_id = _start(seen, "canary_tool", "look it up", tools=True)
    task = _task(seen)
    done = seen.call(
        "POST",
        f"/tasks/{task['taskId']}/complete",
        {"leaseId": task["leaseId"], "output": {"echo": task["input"]}},
    )
    assert done.status_code == 204, done.text
    _finish(seen, execution_id)
    # A worker failure whose error echoes the input; the next reply streams to a subscriber.
    fake.script(
        FakeOpenAI.tool_calls([("lookup", {"q": f"again {ECHO}"})]),
        FakeOpenAI.text(f"streamed answer {ECHO} in pieces"),
    )
    execution_id = _start(seen, "canary_fail", "look it up", tools=True)
    task = _task(seen)
    follower = _follow(seen, execution_id)
    failed = seen.call(
        "POST",
        f"/tasks/{task['taskId']}/fail",
        {"leaseId": task["leaseId"], "error": f"worker broke on {task['input']}", "retryable": False},
    )
    assert failed.status_code == 204, failed.text
    _finish(seen, execution_id)
    follower.join(30)
    # An error event inside a stream.
    fake.script(
        FakeOpenAI.tool_calls([("lookup", {"q": "x"})]),
        FakeOpenAI.raw(
            200,
            f'data: {{"error": {{"message": "stream broke for {ECHO}", "type": "server_error"}}}}\n\n',
            "text/event-stream",
        ),
    )
    execution_id = _start(seen, "canary_stream_error", "look it up", tools=True)
    task = _task(seen)
    follower = _follow(seen, execution_id)
    seen.call("POST", f"/tasks/{task['taskId']}/complete", {"leaseId": task["leaseId"], "output": "ok"})
    errors.append(_finish(seen, execution_id).get("error") or "")
    follower.join(30)
    seen.call("GET", "/agent/executions?size=100")
    return errors


def _leaks(haystack: bytes, *keys: str) -> bool:
    """A whole key, or its random part (what a cut would leave) in any common encoding."""
    needles = {n for key in keys for n in (key, key.split("-canary-", 1)[1])}
    return any(n.encode() in haystack or n.encode("utf-16-le") in haystack for n in needles)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip("AGENTSPAN_TEST_DATABASE_URL not set: the PostgreSQL canary run is skipped")
    name = f"agentspan_canary_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_dump(url: str) -> bytes:
    """Every row of every table of the server's database, as text."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        assert any(t["table_name"] == "events" for t in tables), tables
        rows: list[str] = []
        for table in tables:
            ident = f'"{table["table_schema"]}"."{table["table_name"]}"'
            rows.extend(r[0] for r in await conn.fetch(f"SELECT t::text FROM {ident} t"))  # noqa: S608
        return "\n".join(rows).encode()
    finally:
        await conn.close()


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_the_provider_key_never_leaves_the_server(tmp_path: Path, database: str | None) -> None:
    key = f"sk-canary-{secrets.token_hex(16)}"
    # The server's bootstrap admin key, sent with every request: a secret of its own.
    token = f"tok-canary-{secrets.token_hex(16)}"
    with FakeOpenAI(echo_header="authorization") as fake:
        env = {
            "AGENTSPAN_AUTH_TOKEN": token,
            "OPENAI_API_KEY": key,
            "OPENAI_BASE_URL": fake.base_url,
            "AGENTSPAN_ALLOW_MODEL_REQUESTS": "true",
        }
        if database is not None:
            env["AGENTSPAN_DATABASE_URL"] = database
        server = ServerProcess(tmp_path / "data", env=env, log_level="debug").start()
        seen = Seen(server.api_url, token)
        try:
            errors = _drive(seen, fake, key)
            # The fake really was sent the key and really echoed it.
            assert all(h.get("authorization") == f"Bearer {key}" for h in fake.request_headers)
            assert all("<redacted>" in error for error in errors), errors
            stored = _pg_dump(database) if database is not None else None
            live_files = _files(tmp_path)
        finally:
            seen.client.close()
            server.stop()
        after_stop = _files(tmp_path)
    assert not [where for where, text in seen.texts if _leaks(text.encode(), key, token)]
    for name, data in {**live_files, **after_stop}.items():
        assert not _leaks(data, key, token), f"a canary is in {name}"
    assert {p.name for p in (tmp_path / "data").iterdir()} & {"agentspan.db", f"server-{server.port}.log"}
    if stored is not None:
        assert not _leaks(asyncio.run(stored), key, token), "a canary is in a PostgreSQL row"


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the database, its WAL and shared memory, the logs)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
