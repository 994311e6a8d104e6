"""The credential store behind ``http_tool``: a value set through ``/api/credentials`` is
what a real local HTTP service receives in the ``${NAME}`` header, set while the server
runs, replaced between two runs, and never stored outside its sealed row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentspan.agents import Agent, AgentRuntime, http_tool
from agentspan.agents._config import AgentConfig
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.http_target import HttpTarget, tool_messages
from support.servers import ThreadServer


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ThreadServer]:
    srv = ThreadServer(Settings(data_dir=tmp_path / "data")).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_an_http_tool_sends_the_stored_value_and_its_replacement(
    server: ThreadServer, fake_openai: FakeOpenAI
) -> None:
    first, second = f"tok-{uuid.uuid4().hex}", f"tok-{uuid.uuid4().hex}"
    with HttpTarget() as target:
        target.route("GET", "/me", lambda seen: (200, {"ok": True}))
        tool = http_tool(
            name="me",
            description="Who am I",
            url=target.url + "/me",
            headers={"Authorization": "Bearer ${SERVICE_TOKEN}"},
            credentials=["SERVICE_TOKEN"],
        )
        agent = Agent(name="caller", model="openai/gpt-4o", tools=[tool])
        config = AgentConfig(server_url=server.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            fake_openai.reset()
            fake_openai.script(FakeOpenAI.tool_calls([("me", {})]), FakeOpenAI.text("unset"))
            runtime.run(agent, "who am I")
            assert target.requests_to("/me") == []  # nothing is sent without the value
            assert "agentspan credentials set SERVICE_TOKEN" in tool_messages(fake_openai)[0]

            for value in (first, second):  # set while the server runs, then replaced
                assert httpx.put(
                    server.api_url + "/credentials/SERVICE_TOKEN", json={"value": value}
                ).is_success
                fake_openai.reset()
                fake_openai.script(FakeOpenAI.tool_calls([("me", {})]), FakeOpenAI.text("done"))
                assert runtime.run(agent, "who am I").output == "done"
                assert target.requests_to("/me")[-1].headers["authorization"] == f"Bearer {value}"
    stored = b"".join(p.read_bytes() for p in Path(server.settings.data_dir).rglob("*") if p.is_file())
    assert first.encode() not in stored and second.encode() not in stored
    assert b"${SERVICE_TOKEN}" in stored  # the spec keeps the placeholder
