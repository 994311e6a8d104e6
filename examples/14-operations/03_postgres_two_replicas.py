"""Two server replicas on one PostgreSQL database: start on one, approve and finish on the other.

    AGENTSPAN_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python examples/14-operations/03_postgres_two_replicas.py

The example creates a database of its own on that PostgreSQL server, runs two
``agentspan server run`` processes against it (the replicas; ``pip install
'agentspan[postgres]'``), and drops the database at the end. A run is started through
replica A; its approval and its result go through replica B, and the tool is served by a
worker connected to A. Every replica sees every execution: the state is in the database.
With no API key the model is scripted.
"""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import asyncpg

from agentspan.agents import Agent, AgentConfig, AgentHandle, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

ADMIN_URL = os.environ["AGENTSPAN_TEST_DATABASE_URL"]
DB_NAME = f"agentspan_example_{uuid.uuid4().hex[:8]}"
DB_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME


@tool(approval_required=True)
def publish(post: str) -> str:
    """Publish a post (a person approves first)."""
    return f"published {post!r} (by worker pid {os.getpid()})"


agent = Agent(
    name="publisher",
    model=scripted_or_live([ToolCall("publish", {"post": "Release 2.0 is out"}), "Published."]),
    instructions="Publish the post the user gives, then confirm.",
    tools=[publish],
)


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def replica(data: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(port), "--data-dir", data]
    env = {**os.environ, "AGENTSPAN_DATABASE_URL": DB_URL}
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.1)


asyncio.run(admin(f'CREATE DATABASE "{DB_NAME}"'))
servers: list[subprocess.Popen[bytes]] = []
try:
    with tempfile.TemporaryDirectory() as data:
        (server_a, url_a), (server_b, url_b) = replica(data + "/a"), replica(data + "/b")
        servers += [server_a, server_b]
        with AgentRuntime(config=AgentConfig(server_url=url_a, auto_start_server=False)) as on_a:
            handle = on_a.start(agent, "Publish: Release 2.0 is out")  # started on A, tool served from A
            with AgentRuntime(config=AgentConfig(server_url=url_b, auto_start_workers=False)) as on_b:
                on_b_handle = AgentHandle(execution_id=handle.execution_id, runtime=on_b)
                while not on_b_handle.get_status().is_waiting:
                    time.sleep(0.1)
                print(
                    "replica B sees the run waiting for:",
                    (on_b_handle.get_status().pending_tool or {}).get("tool_name"),
                )
                on_b_handle.approve()
                result = on_b_handle.join(timeout=60)
        print(f"finished through replica B: {result.status}")
        print("publish returned:", result.tool_calls[0]["result"])
        print(
            "the worker was this process (connected to A):",
            f"pid {os.getpid()})" in result.tool_calls[0]["result"],
        )
finally:
    for server in servers:
        server.terminate()
        server.wait()
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))

# requires: asyncpg
# requires-env: AGENTSPAN_TEST_DATABASE_URL
# timeout: 60
# expect: replica B sees the run waiting for: publish
# expect: finished through replica B: COMPLETED
# expect: publish returned: published 'Release 2.0 is out'
# expect: the worker was this process (connected to A): True
