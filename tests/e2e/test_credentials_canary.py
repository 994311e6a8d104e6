"""Issue 13: a credential never appears outside its sealed row — the canary test.

A real server process (debug logging) gets canary values through the CLI (stdin, a file)
and the REST API, uses one as a provider key for real model calls to the fake OpenAI-wire
endpoint (one of which answers an error quoting the key back), gives another to a worker
tool's call and a third, declared by a run, to an isolated tool's process, and is asked every question an operator could ask. Then every stored byte is searched for the canary, raw,
hex and base64: the SQLite file with its -wal and -shm (while the server runs and after
it stops), every other file of the data dir, the server's log, every row of every table
on PostgreSQL (when AGENTSPAN_TEST_DATABASE_URL is set), every API answer, event and
error, and everything the CLI printed. The canary must also have arrived where it was
meant to go (the model endpoint's Authorization header): a test that never used the
secret could not have leaked it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, get_credential, tool
from agentspan.agents.testing import ScriptedModel, ToolCall

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.e2e
PG_URL = os.environ.get("AGENTSPAN_TEST_DATABASE_URL", "")


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw).rstrip(b"=")]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@tool(credentials=["TOOL_TOKEN"])
def use_token(page: int) -> str:
    """Call an API with the token (here: prove the token arrived, without returning it)."""
    return _digest(get_credential("TOOL_TOKEN") + os.environ["TOOL_TOKEN"])


@tool(isolated=True)
def use_run_token(page: int) -> str:
    """Runs in its own process; the run (not the tool) declares RUN_TOKEN."""
    return _digest(get_credential("RUN_TOKEN") + os.environ["RUN_TOKEN"])


def assert_absent(secrets: list[str], where: str, data: bytes | str) -> None:
    blob = data.encode() if isinstance(data, str) else data
    for secret in secrets:
        for form in _forms(secret):
            at = blob.find(form)
            if at >= 0:
                around = blob[max(0, at - 200) : at + len(form) + 80].replace(form, b"<CANARY>")
                pytest.fail(f"a credential value leaked into {where}: ...{around!r}...")


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _pg_rows(url: str) -> list[tuple[str, str]]:
    """Every row of every table, as PostgreSQL's own text form of the row."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        rows: list[tuple[str, str]] = []
        for table in tables:
            name = table["table_name"]
            for row in await conn.fetch(f'SELECT t::text AS r FROM "{name}" t'):
                rows.append((name, row["r"]))
        return rows
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip("AGENTSPAN_TEST_DATABASE_URL not set: the PostgreSQL canary run is skipped")
    name = f"agentspan_canary_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class Cli:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.printed: list[str] = []

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSPAN_")}
        result = subprocess.run(
            [sys.executable, "-m", "agentspan.cli", "--server-url", self.server.root_url, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
        )
        self.printed += [result.stdout, result.stderr]
        return result


def _start(api: str, answers: list[str], model: str) -> dict[str, Any]:
    body = {"agentConfig": {"name": "canary_agent", "model": model}, "prompt": "hi"}
    started = httpx.post(api + "/agent/start", json=body, params={"waitMs": 20000}, timeout=30)
    answers.append(started.text)
    assert started.status_code == 200, started.text
    result: dict[str, Any] = started.json()["result"]
    execution_id = started.json()["executionId"]
    for path in (
        f"/agent/execution/{execution_id}?includeEvents=true",
        f"/agent/executions/{execution_id}/events",
        f"/agent/{execution_id}/status",
        "/agent/executions",
    ):
        answers.append(httpx.get(api + path, timeout=10).text)
    with httpx.stream("GET", f"{api}/agent/stream/{execution_id}", timeout=10) as stream:
        answers.append(stream.read().decode())
    return result


def test_a_credential_value_never_appears_outside_its_sealed_row(
    tmp_path: Path, database: str | None
) -> None:
    key = f"canarykey{uuid.uuid4().hex}"
    token = f"canarytoken{uuid.uuid4().hex}"
    run_token = f"canaryrun{uuid.uuid4().hex}"
    secrets = [key, token, run_token]
    data_dir = tmp_path / "data"
    answers: list[str] = []
    with FakeOpenAI() as fake:
        env = {"GROQ_BASE_URL": fake.base_url, "GROQ_API_KEY": ""}
        if database is not None:
            env["AGENTSPAN_DATABASE_URL"] = database
        server = ServerProcess(data_dir, env=env, log_level="debug").start()
        cli = Cli(server)
        api = server.api_url
        try:
            # Set through the CLI (stdin, a file) and the API; the answers carry names only.
            assert cli("credentials", "set", "GROQ_API_KEY", stdin=key + "\n").returncode == 0
            secret_file = tmp_path / "token.txt"
            secret_file.write_text(token + "\n")
            assert cli("credentials", "set", "TOOL_TOKEN", "--from-file", str(secret_file)).returncode == 0
            secret_file.unlink()
            assert httpx.put(api + "/credentials/RUN_TOKEN", json={"value": run_token}).is_success
            replaced = httpx.put(api + "/credentials/TOOL_TOKEN", json={"value": token})
            assert replaced.status_code == 200
            answers += [replaced.text, httpx.get(api + "/credentials").text]
            answers.append(httpx.get(api + "/credentials/GROQ_API_KEY").text)
            # Refusals do not echo what was sent.
            answers.append(httpx.put(api + "/credentials/bad-name", json={"value": key}).text)
            answers.append(httpx.post(api + "/credentials", json={"name": "BIG", "value": key * 3000}).text)
            listed = cli("credentials", "list")
            assert "GROQ_API_KEY" in listed.stdout and "TOOL_TOKEN" in listed.stdout
            assert '"name": "TOOL_TOKEN"' in cli("credentials", "list", "--json").stdout

            # The key is used for real model calls, one of which the endpoint answers by
            # quoting the key back in its error.
            fake.script(fake.text("all good"))
            assert _start(api, answers, "groq/llama-3.3-70b")["status"] == "COMPLETED"
            assert fake.request_headers[-1]["authorization"] == f"Bearer {key}"
            fake.script(fake.error(401, f"Incorrect API key provided: {key}. Find yours at ..."))
            failed = _start(api, answers, "groq/llama-3.3-70b")
            assert failed["status"] == "FAILED" and "401" in failed["error"]

            # A worker tool receives the other one for its call, fetched with its lease.
            agent = Agent(
                name="canary_worker",
                model=ScriptedModel([ToolCall("use_token", {"page": 1}), "done"]),
                tools=[use_token],
            )
            config = AgentConfig(server_url=api, auto_start_server=False)
            with AgentRuntime(config=config) as runtime:
                ran = runtime.run(agent, "use the token")
            assert ran.tool_calls[0]["result"] == _digest(token + token)
            answers.append(repr(ran))
            # A run's credential reaches an isolated tool of the run (a child process).
            isolated = Agent(
                name="canary_isolated",
                model=ScriptedModel([ToolCall("use_run_token", {"page": 1}), "done"]),
                tools=[use_run_token],
            )
            with AgentRuntime(config=config) as runtime:
                ran = runtime.run(isolated, "use the run's token", credentials=["RUN_TOKEN"])
            assert ran.tool_calls[0]["result"] == _digest(run_token + run_token), ran.tool_calls
            answers.append(repr(ran))
            for execution in httpx.get(api + "/agent/executions").json()["results"]:
                detail = httpx.get(f"{api}/agent/execution/{execution['executionId']}?includeEvents=true")
                answers.append(detail.text)

            for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
                assert_absent(secrets, f"{path.name} (server running)", path.read_bytes())
            if database is not None:
                for table, row in asyncio.run(_pg_rows(database)):
                    assert_absent(secrets, f"PostgreSQL table {table}", row)
                assert any(table == "credentials" for table, _ in asyncio.run(_pg_rows(database)))
        finally:
            server.stop()
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    assert any(p.name == "master.key" for p in files)
    assert database is not None or any(p.name == "agentspan.db" for p in files)
    for path in files:
        assert_absent(secrets, f"{path.name} (server stopped)", path.read_bytes())
    assert "/api/credentials" in server.log_text()  # the log was written, requests included
    assert_absent(secrets, "the server log", server.log_text())
    for answer in answers:
        assert_absent(secrets, "an API answer", answer)
    for printed in cli.printed:
        assert_absent(secrets, "the CLI's output", printed)


def test_the_cli_sets_lists_deletes_and_rotates_the_master_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    cli = Cli(server)
    try:
        assert cli("credentials", "list").stdout.startswith("no credentials")
        first = cli("credentials", "set", "API_TOKEN", "-", stdin="v1\r\n")
        assert first.returncode == 0 and first.stdout == "set credential 'API_TOKEN'\n"
        assert (
            cli("credentials", "set", "API_TOKEN", "literal-v2").stdout == "replaced credential 'API_TOKEN'\n"
        )
        empty = cli("credentials", "set", "EMPTY", stdin="\n")
        assert empty.returncode == 1 and empty.stderr.startswith("error: ") and empty.stderr.count("\n") == 1
        bad = cli("credentials", "set", "9LIVES", stdin="x")
        assert bad.returncode == 1 and "(validation_failed)" in bad.stderr
        assert cli("credentials", "delete", "API_TOKEN").returncode == 0
        gone = cli("credentials", "delete", "API_TOKEN")
        assert gone.returncode == 1 and "(credential_not_found)" in gone.stderr
        assert cli("credentials", "set", "GROQ_API_KEY", stdin="gsk-sealed-before-rotation").returncode == 0
        old_key = (data_dir / "master.key").read_text()
        # SQLite admits one process: rotation refuses while the server runs.
        busy = cli("credentials", "rotate-master-key", "--data-dir", str(data_dir))
        assert busy.returncode == 1 and "stop the server first" in busy.stderr
    finally:
        server.stop()
    rotated = cli("credentials", "rotate-master-key", "--data-dir", str(data_dir))
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("re-sealed 1 credential with master key")
    assert (data_dir / "master.key").read_text() != old_key
    assert (data_dir / "master.key").stat().st_mode & 0o777 == 0o600
    assert not (data_dir / "master.key.new").exists()
    # The restarted server opens the value sealed before the rotation with the new key (it
    # is the provider key nobody set in the environment, so a model call proves it).
    with FakeOpenAI() as fake:
        env = {"GROQ_BASE_URL": fake.base_url, "GROQ_API_KEY": ""}
        server = ServerProcess(data_dir, env=env).start()
        try:
            fake.script(fake.text("ok"))
            assert _start(server.api_url, [], "groq/m")["status"] == "COMPLETED"
            assert fake.request_headers[-1]["authorization"] == "Bearer gsk-sealed-before-rotation"
        finally:
            server.stop()
