"""``strategy="plan_execute"``: the parent plans, sub-agents carry out the steps, the
parent writes the answer — each phase a recorded child execution on a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from agentspan.agents import Agent, AgentAPIError, AgentRuntime, Strategy

from fakes.openai_server import FakeOpenAI, FakeReply


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def plan(*steps: tuple[str, str]) -> FakeReply:
    return FakeOpenAI.text(json.dumps({"steps": [{"agent": a, "task": t} for a, t in steps]}))


def team(**options: object) -> Agent:
    researcher = Agent(name="researcher", model="openai/gpt-4o", introduction="Finds facts.")
    writer = Agent(name="writer", model="openai/gpt-4o")
    return Agent(
        name="planner_team",
        model="openai/gpt-4o",
        instructions="You lead a small team.",
        agents=[researcher, writer],
        strategy=Strategy.PLAN_EXECUTE,
        **options,  # type: ignore[arg-type]
    )


def asked(fake: FakeOpenAI, n: int) -> str:
    return str(fake.requests[n]["messages"][-1]["content"])


def test_the_plan_runs_step_by_step_and_the_parent_answers(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        plan(("researcher", "find three facts about tides"), ("writer", "write a paragraph")),
        FakeOpenAI.text("the moon pulls the sea"),
        FakeOpenAI.text("Tides rise and fall."),
        FakeOpenAI.text("Final: tides follow the moon."),
    )
    result = runtime.run(team(), "explain tides")
    assert result.status == "COMPLETED"
    assert result.output == "Final: tides follow the moon."
    assert [e.target for e in result.events if e.type == "handoff"] == [
        "planner_team",
        "researcher",
        "writer",
        "planner_team",
    ]
    # The planner is shown the team, and must answer with a plan of its agents.
    assert "- researcher: Finds facts." in asked(fake, 0)
    schema = fake.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["steps"]["items"]["properties"]["agent"]["enum"] == ["researcher", "writer"]
    # Each step sees the request, the plan, the results so far and its own task.
    assert asked(fake, 1).startswith("explain tides\n\nThe plan:\n1. [researcher] find three facts")
    assert asked(fake, 1).endswith("Your step (1): find three facts about tides")
    assert "Results so far:\n1. the moon pulls the sea" in asked(fake, 2)
    # The summary is made from every step's result.
    assert "Result: the moon pulls the sea" in asked(fake, 3)
    assert "Result: Tides rise and fall." in asked(fake, 3)
    assert fake.request_count == 4


def test_the_answer_has_the_teams_output_type(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    class Report(BaseModel):
        title: str

    fake.script(
        plan(("writer", "draft a title")),
        FakeOpenAI.text("Moon and sea"),
        FakeOpenAI.text(json.dumps({"title": "Moon and sea"})),
    )
    result = runtime.run(team(output_type=Report), "a title about tides")
    assert result.output == Report(title="Moon and sea")


def test_a_plan_naming_an_unknown_agent_is_asked_again(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        plan(("nobody", "do it")),
        plan(("writer", "do it")),
        FakeOpenAI.text("done by the writer"),
        FakeOpenAI.text("All done."),
    )
    result = runtime.run(team(), "go")
    assert result.output == "All done."
    # The rejected plan went back to the planner with what was wrong with it.
    assert "nobody" in json.dumps(fake.requests[1]["messages"][-2:])
    assert [e.type for e in result.events].count("handoff") == 3


def test_a_failed_step_fails_the_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(plan(("researcher", "look")), FakeOpenAI.error(400, "bad request"))
    result = runtime.run(team(), "go")
    assert result.status == "FAILED"
    assert "step 'researcher'" in (result.error or "")


def test_a_parent_without_a_model_is_refused(runtime: AgentRuntime) -> None:
    modelless = Agent(
        name="no_planner",
        agents=[Agent(name="w", model="openai/gpt-4o")],
        strategy="plan_execute",
    )
    with pytest.raises(AgentAPIError, match="plan and to write the answer"):
        runtime.run(modelless, "go")
