"""Conformance: Google ADK agents (the real ``google-adk`` package) run unchanged on a real
server over HTTP, with the fake OpenAI endpoint scripting the model's replies (ADK models
given as ``provider/model``, LiteLLM's spelling)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from pydantic import BaseModel

pytest.importorskip("google.adk", reason="the google-adk package is not installed")

from google.adk.agents import (  # noqa: E402 - after the skip
    Agent,
    LlmAgent,
    LoopAgent,
    ParallelAgent,
    SequentialAgent,
)
from google.adk.agents.readonly_context import ReadonlyContext  # noqa: E402
from google.adk.models import Gemini  # noqa: E402
from google.adk.planners import BuiltInPlanner, PlanReActPlanner  # noqa: E402
from google.adk.tools.agent_tool import AgentTool  # noqa: E402
from google.adk.tools.exit_loop_tool import exit_loop  # noqa: E402
from google.adk.tools.function_tool import FunctionTool  # noqa: E402
from google.adk.tools.tool_context import ToolContext  # noqa: E402
from google.genai import types  # noqa: E402

from agentspan._core.errors import ConfigurationError  # noqa: E402
from agentspan.agents import AgentRuntime  # noqa: E402
from agentspan.agents import tool as native_tool  # noqa: E402
from agentspan.frameworks import detect_framework  # noqa: E402
from agentspan.frameworks.google_adk import native_model, to_agent  # noqa: E402

from fakes.openai_server import FakeOpenAI  # noqa: E402

pytestmark = [
    pytest.mark.e2e,
    # ADK 2 deprecates SequentialAgent, ParallelAgent and LoopAgent (for its Workflow), but
    # they are what ADK programs use; the warning is not ours to fix.
    pytest.mark.filterwarnings("ignore:.*deprecated in favor of Workflow:DeprecationWarning"),
]

MODEL = "openai/gpt-4o"


def get_weather(city: str, tool_context: ToolContext) -> dict[str, Any]:
    """Get the current weather for a city.

    Args:
        city: The city to look up.
    """
    tool_context.state["last_city"] = city
    seen = tool_context.state.get("cities", [])
    tool_context.state["cities"] = [*seen, city]
    return {"city": city, "weather": "sunny", "asked_before": seen}


def transfer_funds(amount: float) -> str:
    """Move money (a person must approve)."""
    return f"moved {amount}"


class WeatherReport(BaseModel):
    city: str
    temperature: float


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reset()
    return fake_openai


def _system(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] == "system", request["messages"]
    return str(first["content"])


# --------------------------------------------------------------------------- one agent


def test_single_agent_with_a_tool_state_and_templated_instructions(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    agent = Agent(
        name="weather_agent",
        model=MODEL,
        instruction="You help {user_name}. Last city: {last_city?}.",
        tools=[get_weather],
        generate_content_config=types.GenerateContentConfig(temperature=0.2, max_output_tokens=300),
    )
    fake.script(
        FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]),
        FakeOpenAI.tool_calls([("get_weather", {"city": "Oslo"})]),
        FakeOpenAI.text("Sunny in both."),
    )

    result = runtime.run(agent, "Weather in NYC and Oslo?", context={"user_name": "ada"})

    assert result.status == "COMPLETED", result.error
    assert result.output == "Sunny in both."
    first, second, third = fake.requests
    assert first["model"] == "gpt-4o" and first["temperature"] == 0.2
    assert 300 in (first.get("max_tokens"), first.get("max_completion_tokens"))
    # {var} is filled from the run's state at each model call; {var?} is empty when unset.
    assert _system(first) == "You help ada. Last city: ."
    assert _system(third) == "You help ada. Last city: Oslo."
    schema = first["tools"][0]["function"]["parameters"]
    assert set(schema["properties"]) == {"city"}  # tool_context is not shown to the model
    assert schema["required"] == ["city"]
    # The second call saw the first one's state change (recorded with its result).
    assert result.tool_calls[1]["result"] == {"city": "Oslo", "weather": "sunny", "asked_before": ["NYC"]}
    assert json.loads(second["messages"][-1]["content"])["city"] == "NYC"


def slow_lookup(key: str) -> str:
    """A slow, blocking lookup."""
    time.sleep(1.0)
    return f"value of {key}"


def test_sync_tools_do_not_block_each_other(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = LlmAgent(name="looker", model=MODEL, instruction="Look up.", tools=[slow_lookup])
    fake.script(
        FakeOpenAI.tool_calls([("slow_lookup", {"key": "a"}), ("slow_lookup", {"key": "b"})]),
        FakeOpenAI.text("Both found."),
    )
    started = time.monotonic()
    result = runtime.run(agent, "Look up a and b")
    elapsed = time.monotonic() - started
    assert result.status == "COMPLETED", result.error
    assert sorted(c["result"] for c in result.tool_calls) == ["value of a", "value of b"]
    # Run in the worker's threads, not on its event loop: the two calls overlapped.
    assert elapsed < 1.9, elapsed


@native_tool
def shout(text: str) -> str:
    """An Agentspan tool."""
    return text.upper()


def test_agentspan_tools_and_instruction_providers(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    def instruction(ctx: ReadonlyContext) -> str:
        return f"Shout for {ctx.state['user_name']} {{not_a_template}}"

    agent = LlmAgent(name="mixed", model=MODEL, instruction=instruction, tools=[shout])
    fake.script(FakeOpenAI.tool_calls([("shout", {"text": "hi"})]), FakeOpenAI.text("HI"))
    result = runtime.run(agent, "shout hi", context={"user_name": "bo"})
    assert result.status == "COMPLETED", result.error
    assert result.tool_calls[0]["result"] == "HI"
    # A provider's text is used as it is (ADK does not inject state into it).
    assert _system(fake.requests[0]) == "Shout for bo {not_a_template}"


def test_missing_state_variable_fails_the_run_naming_it(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = LlmAgent(name="needs_state", model=MODEL, instruction="Hello {who}.")
    result = runtime.run(agent, "hi")
    assert result.status == "FAILED"
    assert "state variable 'who' is not set" in (result.error or "")
    assert fake.request_count == 0


# --------------------------------------------------------------------------- multi-agent


def test_sub_agents_are_handoffs_sharing_the_session_state(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    async def note_topic(topic: str, tool_context: ToolContext) -> str:
        """Note the topic (an async tool)."""
        tool_context.state["topic"] = topic
        return "noted"

    billing = LlmAgent(
        name="billing", model=MODEL, description="Answers billing questions.", instruction="Billing: {topic}."
    )
    refunds = LlmAgent(name="refunds", model=MODEL, instruction="You handle refunds.")
    triage = LlmAgent(
        name="triage",
        model=MODEL,
        instruction="Route the user.",
        tools=[note_topic],
        sub_agents=[billing, refunds],
    )
    fake.script(
        FakeOpenAI.tool_calls([("note_topic", {"topic": "invoices"})]),
        FakeOpenAI.tool_calls([("transfer_to_billing", {"reason": "billing"})]),
        FakeOpenAI.text("Your invoice is paid."),
    )

    result = runtime.run(triage, "Is my invoice paid?")

    assert result.status == "COMPLETED", result.error
    assert result.output == "Your invoice is paid."
    offered = {t["function"]["name"]: t["function"]["description"] for t in fake.requests[0]["tools"]}
    assert {"transfer_to_billing", "transfer_to_refunds", "note_topic"} == set(offered)
    assert "Answers billing questions." in offered["transfer_to_billing"]
    # The sub-agent started with the state the parent's tool wrote.
    assert _system(fake.requests[2]) == "Billing: invoices."


def test_sequential_pipeline_passes_state_through_output_key(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    researcher = LlmAgent(
        name="researcher", model=MODEL, instruction="Research the topic.", output_key="research"
    )
    writer = LlmAgent(
        name="writer", model=MODEL, instruction="Write an article from: {research}", output_key="article"
    )
    editor = LlmAgent(name="editor", model=MODEL, instruction="Edit: {article} (research: {research})")
    pipeline = SequentialAgent(name="pipeline", sub_agents=[researcher, writer, editor])
    fake.script(FakeOpenAI.text("Bees dance."), FakeOpenAI.text("An article."), FakeOpenAI.text("Edited."))

    result = runtime.run(pipeline, "Bees")

    assert result.status == "COMPLETED", result.error
    assert result.output == "Edited."
    assert _system(fake.requests[1]) == "Write an article from: Bees dance."
    assert _system(fake.requests[2]) == "Edit: An article. (research: Bees dance.)"


def test_parallel_branches_merge_their_state(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    left = LlmAgent(name="left", model=MODEL, instruction="Look left.", output_key="left_view")
    right = LlmAgent(name="right", model=MODEL, instruction="Look right.", output_key="right_view")
    merger = LlmAgent(name="merger", model=MODEL, instruction="Left: {left_view}. Right: {right_view}.")
    both = ParallelAgent(name="both", sub_agents=[left, right])
    fake.script(FakeOpenAI.text("trees"), FakeOpenAI.text("sea"), FakeOpenAI.text("A view of trees and sea."))

    result = runtime.run(SequentialAgent(name="survey", sub_agents=[both, merger]), "Describe the view")

    assert result.status == "COMPLETED", result.error
    assert result.output == "A view of trees and sea."
    # Which branch got which reply depends on timing; each kept its own answer.
    first_two = {_system(fake.requests[0]): "", _system(fake.requests[1]): ""}
    assert set(first_two) == {"Look left.", "Look right."}
    left_view = "trees" if _system(fake.requests[0]) == "Look left." else "sea"
    right_view = "sea" if left_view == "trees" else "trees"
    assert _system(fake.requests[2]) == f"Left: {left_view}. Right: {right_view}."


def test_loop_agent_ends_when_a_tool_escalates(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    writer = LlmAgent(name="drafter", model=MODEL, instruction="Improve the draft.", output_key="draft")
    critic = LlmAgent(
        name="critic",
        model=MODEL,
        instruction="Review: {draft}. Call exit_loop when good.",
        tools=[exit_loop],
    )
    loop = LoopAgent(name="refine", sub_agents=[writer, critic], max_iterations=5)
    fake.script(
        FakeOpenAI.text("draft one"),
        FakeOpenAI.text("needs work"),
        FakeOpenAI.text("draft two"),
        FakeOpenAI.tool_calls([("exit_loop", {})]),
        FakeOpenAI.text("good"),
    )

    result = runtime.run(loop, "Write a haiku")

    assert result.status == "COMPLETED", result.error
    assert fake.request_count == 5  # two iterations, not five
    assert _system(fake.requests[3]) == "Review: draft two. Call exit_loop when good."
    assert result.finish_reason == "termination"


def test_loop_agent_is_bounded_by_max_iterations(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    once = LlmAgent(name="once", model=MODEL, instruction="Try.")
    fake.script(*[FakeOpenAI.text(f"try {i}") for i in range(5)])
    result = runtime.run(LoopAgent(name="bounded", sub_agents=[once], max_iterations=2), "go")
    assert result.status == "COMPLETED", result.error
    assert fake.request_count == 2


def test_agent_tool_is_a_child_execution(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    spanish = LlmAgent(name="spanish", model=MODEL, instruction="Translate to Spanish.")
    orchestrator = LlmAgent(
        name="orchestrator", model=MODEL, instruction="Use your tools.", tools=[AgentTool(agent=spanish)]
    )
    fake.script(
        FakeOpenAI.tool_calls([("spanish", {"request": "hello"})]),
        FakeOpenAI.text("hola"),
        FakeOpenAI.text("In Spanish: hola"),
    )
    result = runtime.run(orchestrator, "Say hello in Spanish")
    assert result.status == "COMPLETED", result.error
    assert result.output == "In Spanish: hola"
    assert result.tool_calls[0]["result"] == "hola"
    assert fake.requests[1]["messages"][-1]["content"] == "hello"


def test_structured_output(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = LlmAgent(
        name="reporter", model=MODEL, instruction="Report.", output_schema=WeatherReport, output_key="report"
    )
    fake.script(FakeOpenAI.text(json.dumps({"city": "Oslo", "temperature": 3.5})))
    result = runtime.run(agent, "Weather in Oslo?")
    assert result.status == "COMPLETED", result.error
    assert result.output == WeatherReport(city="Oslo", temperature=3.5)
    assert "temperature" in json.dumps(fake.requests[0]["response_format"])


def test_streaming_events(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = LlmAgent(name="streamer", model=MODEL, instruction="Help.", tools=[get_weather])
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "Rome"})]), FakeOpenAI.text("Warm."))
    events = list(runtime.stream(agent, "Weather in Rome?"))
    types_seen = [e.type for e in events]
    assert "tool_call" in types_seen and "tool_result" in types_seen and types_seen[-1] == "done"
    assert events[-1].output == "Warm."


def _wait_until_waiting(runtime: AgentRuntime, execution_id: str) -> None:
    deadline = time.monotonic() + 20
    while not runtime.get_status(execution_id).is_waiting:
        assert time.monotonic() < deadline, "the run never waited for approval"
        time.sleep(0.05)


def test_require_confirmation_waits_for_a_person(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = LlmAgent(
        name="banker",
        model=MODEL,
        instruction="Move money.",
        tools=[FunctionTool(transfer_funds, require_confirmation=True)],
    )
    fake.script(FakeOpenAI.tool_calls([("transfer_funds", {"amount": 50})]), FakeOpenAI.text("Moved."))
    handle = runtime.start(agent, "Move 50")
    _wait_until_waiting(runtime, handle.execution_id)
    assert fake.request_count == 1  # nothing ran before the decision
    handle.approve()
    result = handle.join(timeout=30)
    assert result.output == "Moved."
    assert result.tool_calls[0]["result"] == "moved 50"
    assert result.tool_calls[0]["approval"]["approved"] is True


def test_agent_and_tool_callbacks_run_durably_with_the_state(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    seen: list[str] = []

    def before_tool(tool: Any, args: dict[str, Any], tool_context: ToolContext) -> dict[str, Any] | None:
        seen.append(f"before {tool.name} {args}")
        tool_context.state["checked"] = args["city"]
        if args["city"] == "Mars":
            return {"error": "no weather on Mars"}  # the tool does not run
        return None

    def after_tool(
        tool: Any, args: dict[str, Any], tool_context: ToolContext, tool_response: dict[str, Any]
    ) -> dict[str, Any] | None:
        seen.append(f"after {tool.name} checked={tool_context.state['checked']}")
        return {**tool_response, "note": "checked"}

    def after_agent(callback_context: Any) -> types.Content:
        return types.Content(
            role="model", parts=[types.Part(text=f"done for {callback_context.state['checked']}")]
        )

    agent = LlmAgent(
        name="hooked",
        model=MODEL,
        instruction="Help.",
        tools=[get_weather],
        before_tool_callback=before_tool,
        after_tool_callback=after_tool,
        after_agent_callback=after_agent,
    )
    fake.script(
        FakeOpenAI.tool_calls([("get_weather", {"city": "Mars"})]),
        FakeOpenAI.tool_calls([("get_weather", {"city": "Rome"})]),
        FakeOpenAI.text("Warm in Rome."),
    )
    result = runtime.run(agent, "Weather?")
    assert result.status == "COMPLETED", result.error
    assert result.output == "done for Rome"  # after_agent's Content replaced the answer
    mars, rome = result.tool_calls
    assert mars["result"] == {"error": "no weather on Mars", "note": "checked"}
    assert rome["result"] == {"city": "Rome", "weather": "sunny", "asked_before": [], "note": "checked"}
    assert seen == [
        "before get_weather {'city': 'Mars'}",
        "after get_weather checked=Mars",
        "before get_weather {'city': 'Rome'}",
        "after get_weather checked=Rome",
    ]


def test_before_agent_callback_content_skips_the_agent(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    def closed(callback_context: Any) -> types.Content | None:
        if callback_context.state.get("closed"):
            return types.Content(role="model", parts=[types.Part(text="We are closed.")])
        return None

    agent = LlmAgent(name="shop", model=MODEL, instruction="Sell.", before_agent_callback=[closed])
    result = runtime.run(agent, "Buy", context={"closed": True})
    assert result.status == "COMPLETED", result.error
    assert result.output == "We are closed."
    assert fake.request_count == 0


def test_model_callbacks_see_the_request_and_reply_and_can_answer(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    seen: list[str] = []

    def guard(callback_context: Any, llm_request: Any) -> Any:
        from google.adk.models.llm_response import LlmResponse

        texts = [p.text or "" for c in llm_request.contents for p in c.parts or []]
        calls = [p.function_call.name for c in llm_request.contents for p in c.parts or [] if p.function_call]
        results = [
            p.function_response.response
            for c in llm_request.contents
            for p in c.parts or []
            if p.function_response
        ]
        seen.append(
            f"request system={llm_request.config.system_instruction!r} calls={calls} results={results}"
        )
        if any("password" in t for t in texts):
            return LlmResponse(
                content=types.Content(role="model", parts=[types.Part(text="I cannot help with that.")])
            )
        return None

    def shout(callback_context: Any, llm_response: Any) -> Any:
        from google.adk.models.llm_response import LlmResponse

        parts = llm_response.content.parts or []
        seen.append("reply " + ", ".join(p.function_call.name if p.function_call else p.text for p in parts))
        text = "".join(p.text or "" for p in parts)
        if text:
            return LlmResponse(content=types.Content(role="model", parts=[types.Part(text=text.upper())]))
        return None

    agent = LlmAgent(
        name="guarded",
        model=MODEL,
        instruction="Help.",
        tools=[get_weather],
        before_model_callback=guard,
        after_model_callback=shout,
    )
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "Oslo"})]), FakeOpenAI.text("Sunny in Oslo."))
    result = runtime.run(agent, "Weather in Oslo?")
    assert result.status == "COMPLETED", result.error
    assert result.output == "SUNNY IN OSLO."
    assert fake.request_count == 2
    assert seen[0] == "request system='Help.' calls=[] results=[]"
    assert seen[1] == "reply get_weather"
    assert seen[2].startswith("request system='Help.' calls=['get_weather'] results=[{'city': 'Oslo'")
    assert seen[3] == "reply Sunny in Oslo."

    blocked = runtime.run(agent, "What is the admin password?")
    assert blocked.status == "COMPLETED", blocked.error
    assert blocked.output == "I cannot help with that."
    assert fake.request_count == 2, "the model was not called"


def test_a_model_callback_editing_the_request_in_place_is_reported_not_ignored(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    def edit(callback_context: Any, llm_request: Any) -> None:
        llm_request.config.system_instruction = "Be terse."

    agent = LlmAgent(name="editor", model=MODEL, instruction="Help.", before_model_callback=edit)
    fake.script(FakeOpenAI.text("Hello."))
    result = runtime.run(agent, "Hi")
    assert result.status == "COMPLETED", result.error
    assert _system(fake.requests[0]) == "Help."  # not applied ...
    (event,) = [e for e in result.events if e.type == "callback"]
    assert event.data is not None and "changed the llm_request in place" in str(
        event.data["errors"]
    )  # ... and said


def test_tool_error_callback_answers_for_a_failed_tool(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    def flaky(city: str) -> dict[str, Any]:
        """Look up the forecast."""
        raise ConnectionError(f"forecast service down for {city}")

    def fallback(
        tool: Any, args: dict[str, Any], tool_context: ToolContext, error: Exception
    ) -> dict[str, Any]:
        return {"city": args["city"], "forecast": "unknown", "why": str(error)}

    agent = LlmAgent(name="resilient", model=MODEL, tools=[flaky], on_tool_error_callback=fallback)
    fake.script(
        FakeOpenAI.tool_calls([("flaky", {"city": "Lima"})]), FakeOpenAI.text("No forecast for Lima.")
    )
    result = runtime.run(agent, "Forecast for Lima?")
    assert result.status == "COMPLETED", result.error
    (call,) = result.tool_calls
    assert (
        call["result"]["forecast"] == "unknown" and "forecast service down for Lima" in call["result"]["why"]
    )
    tool_message = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
    assert "forecast service down for Lima" in tool_message[0]["content"]


# --------------------------------------------------------------------------- mapping and refusals


def test_detection_and_model_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTSPAN_LLM_MODEL", raising=False)
    agent = LlmAgent(name="a", model="gemini-2.0-flash")
    assert detect_framework(agent) == "google_adk"
    assert detect_framework(types.GenerateContentConfig()) is None  # google.genai is not ADK
    assert native_model("gemini-2.0-flash") == "google_gemini/gemini-2.0-flash"
    assert native_model(Gemini(model="gemini-2.5-pro")) == "google_gemini/gemini-2.5-pro"
    assert native_model("anthropic/claude-sonnet-4-5") == "anthropic/claude-sonnet-4-5"
    assert native_model("") is None
    default = native_model(LlmAgent._default_model)
    assert default is not None and to_agent(LlmAgent(name="nomodel")).model == default
    with pytest.raises(ConfigurationError, match="provider/model"):
        native_model("gpt-4o")


def test_models_are_inherited_and_features_map() -> None:
    child = LlmAgent(name="child", instruction="Child.", include_contents="none")
    root = LlmAgent(
        name="root",
        model="gemini-2.0-flash",
        global_instruction="Be kind.",
        instruction="Root.",
        sub_agents=[child],
        planner=PlanReActPlanner(),
    )
    native = to_agent(root)
    assert native.model == "google_gemini/gemini-2.0-flash"
    assert native.planner is True
    assert native.instructions == "Be kind.\n\nRoot."
    sub = native.agents[0]
    assert sub.model == native.model and sub.include_contents == "none"
    assert sub.instructions == "Be kind.\n\nChild."
    thinker = LlmAgent(
        name="thinker",
        model=MODEL,
        planner=BuiltInPlanner(thinking_config=types.ThinkingConfig(thinking_budget=512)),
    )
    assert to_agent(thinker).thinking_budget_tokens == 512


def test_unsupported_features_are_refused_by_name() -> None:
    def on_model_error(callback_context: Any, llm_request: Any, error: Exception) -> None:
        return None

    cases: list[tuple[Any, str]] = [
        (
            LlmAgent(name="cb", model=MODEL, on_model_error_callback=on_model_error),
            "on_model_error_callback",
        ),
        (
            LlmAgent(
                name="cfg",
                model=MODEL,
                generate_content_config=types.GenerateContentConfig(top_k=3, temperature=0.1),
            ),
            "top_k",
        ),
        (LlmAgent(name="task", model=MODEL, mode="task"), "mode='task'"),
    ]
    for agent, name in cases:
        with pytest.raises(ConfigurationError, match=name):
            to_agent(agent)
    from google.adk.tools.google_search_tool import google_search
    from google.adk.tools.long_running_tool import LongRunningFunctionTool

    with pytest.raises(ConfigurationError, match="LongRunningFunctionTool"):
        to_agent(LlmAgent(name="slow", model=MODEL, tools=[LongRunningFunctionTool(transfer_funds)]))
    helper = LlmAgent(name="helper", model=MODEL)
    with pytest.raises(ConfigurationError, match="skip_summarization"):
        to_agent(LlmAgent(name="boss", model=MODEL, tools=[AgentTool(helper, skip_summarization=True)]))

    with pytest.raises(ConfigurationError, match="google_search"):
        to_agent(LlmAgent(name="searcher", model=MODEL, tools=[google_search]))


def test_adapter_without_the_package_names_the_install_command() -> None:
    code = (
        "import sys\n"
        "sys.modules['google.adk'] = None\n"  # as if google-adk were not installed
        "import agentspan.frameworks.google_adk\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "pip install 'agentspan[google-adk]'" in done.stderr


def test_the_sdk_imports_no_adk_until_one_is_used() -> None:
    code = (
        "import sys, agentspan, agentspan.agents\n"
        "print(sorted(m for m in sys.modules if m.startswith(('google.adk', 'agentspan.frameworks.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
