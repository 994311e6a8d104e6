"""``instructions=PromptTemplate(...)``: rendered on the server at start from the
operator's template files, with the template's variables; a missing one is a 400."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import Agent, AgentAPIError, AgentRuntime, PromptTemplate
from agentspan.protocol.spec import AgentConfig
from agentspan.server.errors import InvalidAgent
from agentspan.server.service.templates import PromptTemplates, render

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


@pytest.fixture
def templates(server: ThreadServer) -> Iterator[Path]:
    directory = server.settings.resolved_prompt_templates_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "customer-support.txt").write_text(
        "You are a ${tone} customer support agent for ${company}. Unknown: ${missing}."
    )
    (directory / "production-prompt.v1.txt").write_text("Version one.")
    (directory / "production-prompt.v3.txt").write_text("Version three.")
    yield directory
    for path in directory.iterdir():
        path.unlink()


def test_a_template_is_rendered_into_the_system_prompt(
    runtime: AgentRuntime, fake: FakeOpenAI, templates: Path
) -> None:
    fake.script(FakeOpenAI.text("Hello!"))
    agent = Agent(
        name="support_agent",
        model="openai/gpt-4o",
        instructions=PromptTemplate(
            "customer-support", variables={"company": "Acme Corp", "tone": "friendly and professional"}
        ),
    )
    result = runtime.run(agent, "What are your return policies?")
    assert result.status == "COMPLETED", result.error
    system = fake.requests[0]["messages"][0]
    assert system == {
        "role": "system",
        "content": "You are a friendly and professional customer support agent for Acme Corp. Unknown: ${missing}.",
    }


def test_versions_pin_and_the_latest_is_the_highest(
    runtime: AgentRuntime, fake: FakeOpenAI, templates: Path
) -> None:
    fake.script(FakeOpenAI.text("a"), FakeOpenAI.text("b"))
    pinned = Agent(
        name="pinned", model="openai/gpt-4o", instructions=PromptTemplate("production-prompt", version=1)
    )
    latest = Agent(name="latest", model="openai/gpt-4o", instructions=PromptTemplate("production-prompt"))
    runtime.run(pinned, "hi")
    runtime.run(latest, "hi")
    assert [r["messages"][0]["content"] for r in fake.requests] == ["Version one.", "Version three."]


def test_a_missing_template_refuses_the_start_naming_it(runtime: AgentRuntime, templates: Path) -> None:
    team = Agent(
        name="team",
        strategy="sequential",
        agents=[Agent(name="writer", model="openai/gpt-4o", instructions=PromptTemplate("nope", version=2))],
    )
    with pytest.raises(AgentAPIError) as err:
        runtime.start(team, "hi")
    assert err.value.status_code == 400 and err.value.code == "invalid_agent"
    assert "agent 'team/writer': version 2 of prompt template 'nope' does not exist" in str(err.value)


def test_names_cannot_leave_the_template_directory(tmp_path: Path) -> None:
    directory = tmp_path / "prompts"
    directory.mkdir()
    (tmp_path / "secret.txt").write_text("top secret")
    spec = AgentConfig(name="a", model="m", instructions={"type": "prompt_template", "name": "../secret"})
    with pytest.raises(InvalidAgent, match="not a valid name"):
        PromptTemplates(directory).resolve(spec)


def test_render_replaces_only_known_placeholders() -> None:
    assert render("${a} and ${b} and $c", {"a": 1}) == "1 and ${b} and $c"
