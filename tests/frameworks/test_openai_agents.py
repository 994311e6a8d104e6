"""Conformance: OpenAI Agents SDK agents (the real ``openai-agents`` package) run unchanged on
a real server over HTTP, with the fake OpenAI endpoint scripting the model's replies."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from pydantic import BaseModel

agents = pytest.importorskip("agents", reason="the openai-agents package is not installed")

from agents import (  # noqa: E402 - after the skip
    Agent,
    GuardrailFunctionOutput,
    ModelSettings,
    RunContextWrapper,
    ToolGuardrailFunctionOutput,
    TracingProcessor,
    add_trace_processor,
    function_tool,
    handoff,
    input_guardrail,
    output_guardrail,
    tool_input_guardrail,
)

from agentspan import Runner, RunResult  # noqa: E402
from agentspan._core.errors import ConfigurationError  # noqa: E402
from agentspan.agents import AgentRuntime, AsyncAgentStream  # noqa: E402
from agentspan.agents import tool as native_tool  # noqa: E402
from agentspan.frameworks import detect_framework  # noqa: E402
from agentspan.frameworks.openai_agents import native_model, to_agent  # noqa: E402

from fakes.openai_server import FakeOpenAI  # noqa: E402

pytestmark = pytest.mark.e2e


@function_tool
def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city to look up.
    """
    return f"72F and sunny in {city}"


@function_tool
def remember(ctx: RunContextWrapper[dict[str, Any]], fact: str) -> str:
    """Remember a fact in the run's context."""
    ctx.context.setdefault("facts", []).append(fact)
    return f"remembered {fact}"


@function_tool
def recall(ctx: RunContextWrapper[dict[str, Any]]) -> str:
    """Recall the facts remembered so far."""
    return ", ".join(ctx.context.get("facts", [])) or "nothing"


@function_tool(needs_approval=True)
def transfer_funds(amount: float) -> str:
    """Move money (a person must approve)."""
    return f"moved {amount}"


class WeatherReport(BaseModel):
    city: str
    temperature: float


class TraceSpy(TracingProcessor):
    """Records every trace and span the SDK starts: any would be exported to OpenAI."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_trace_start(self, trace: Any) -> None:
        self.seen.append(f"trace {trace}")

    def on_trace_end(self, trace: Any) -> None:
        self.seen.append(f"trace end {trace}")

    def on_span_start(self, span: Any) -> None:
        self.seen.append(f"span {span}")

    def on_span_end(self, span: Any) -> None:
        self.seen.append(f"span end {span}")

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reset()
    return fake_openai


def _wait_until_waiting(runtime: AgentRuntime, execution_id: str) -> None:
    deadline = time.monotonic() + 20
    while not runtime.get_status(execution_id).is_waiting:
        assert time.monotonic() < deadline, "the run never waited for approval"
        time.sleep(0.05)


# --------------------------------------------------------------------------- one agent


def test_single_agent_with_a_tool(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    spy = TraceSpy()
    add_trace_processor(spy)

    def instructions(ctx: RunContextWrapper[dict[str, Any]], agent: Agent[Any]) -> str:
        return f"You are {agent.name}; the user is {ctx.context['user']}."

    agent = Agent(
        name="Weather agent",
        instructions=instructions,
        model="gpt-4o-mini",
        tools=[get_weather],
        model_settings=ModelSettings(temperature=0.2, max_tokens=300),
    )
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]), FakeOpenAI.text("It is sunny."))

    result = runtime.run(agent, "Weather in NYC?", context={"user": "ada"})

    assert result.status == "COMPLETED", result.error
    assert result.output == "It is sunny."
    assert result.tool_calls[0]["name"] == "get_weather"
    assert result.tool_calls[0]["result"] == "72F and sunny in NYC"
    first = fake.requests[0]
    assert first["model"] == "gpt-4o-mini"
    assert first["temperature"] == 0.2
    assert 300 in (first.get("max_tokens"), first.get("max_completion_tokens"))
    assert first["messages"][0] == {"role": "system", "content": "You are Weather agent; the user is ada."}
    schema = first["tools"][0]["function"]["parameters"]
    assert schema["properties"]["city"]["description"] == "The city to look up."
    assert fake.requests[1]["messages"][-1]["content"] == "72F and sunny in NYC"
    assert spy.seen == []  # nothing for the SDK's tracing to export


@native_tool
def shout(text: str) -> str:
    """An Agentspan tool."""
    return text.upper()


def test_agentspan_tools_in_an_sdk_agent_run_as_they_are(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="mixed", instructions="Help.", model="gpt-4o", tools=[get_weather, shout])  # type: ignore[list-item]
    fake.script(FakeOpenAI.tool_calls([("shout", {"text": "hi"})]), FakeOpenAI.text("HI it is"))
    result = runtime.run(agent, "shout hi")
    assert result.status == "COMPLETED", result.error
    assert result.tool_calls[0]["result"] == "HI"
    assert {t["function"]["name"] for t in fake.requests[0]["tools"]} == {"get_weather", "shout"}


def test_context_is_the_runs_durable_shared_state(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="memo", instructions="Remember things.", model="gpt-4o", tools=[remember, recall])
    fake.script(
        FakeOpenAI.tool_calls([("remember", {"fact": "tea"})]),
        FakeOpenAI.tool_calls([("recall", {})]),
        FakeOpenAI.text("done"),
    )
    given = {"facts": ["milk"]}
    result = runtime.run(agent, "remember tea", context=given)
    assert result.status == "COMPLETED", result.error
    assert [c["result"] for c in result.tool_calls] == ["remembered tea", "milk, tea"]
    assert given == {"facts": ["milk"]}  # the caller's object is the initial state, not shared memory


def test_structured_output_through_the_runner(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="reporter", instructions="Report.", model="gpt-4o", output_type=WeatherReport)
    fake.script(FakeOpenAI.text(json.dumps({"city": "Oslo", "temperature": 3.5})))

    result = Runner.run_sync(agent, "Weather in Oslo?", runtime=runtime)

    assert isinstance(result, RunResult)
    assert result.final_output == WeatherReport(city="Oslo", temperature=3.5)
    assert "temperature" in json.dumps(fake.requests[0]["response_format"])


def test_runner_raises_max_turns_exceeded_like_the_sdk(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    import asyncio

    agent = Agent(name="looper", instructions="Loop.", model="gpt-4o", tools=[get_weather])
    fake.script(*[FakeOpenAI.tool_calls([("get_weather", {"city": f"c{i}"})]) for i in range(5)])

    with pytest.raises(agents.MaxTurnsExceeded, match=r"Max turns \(2\) exceeded"):
        asyncio.run(Runner.run(agent, "go", max_turns=2, runtime=runtime))
    assert fake.request_count == 2  # each agent turn is one model call


def test_runner_returns_a_native_agents_failure(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    from agentspan.agents import Agent as NativeAgent

    fake.script(*[FakeOpenAI.tool_calls([("nothing", {})]) for _ in range(3)])
    result = Runner.run_sync(
        NativeAgent(name="native", model="openai/gpt-4o"), "go", max_turns=1, runtime=runtime
    )
    assert result.final_output is None and result.result.finish_reason == "max_turns"


# --------------------------------------------------------------------------- several agents


def test_handoffs_between_agents(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    async def billing_instructions(ctx: RunContextWrapper[Any], agent: Agent[Any]) -> str:
        return "You handle billing."

    billing = Agent(
        name="Billing agent",
        handoff_description="Answers billing questions.",
        instructions=billing_instructions,
        model="gpt-4o",
    )
    refunds = Agent(name="Refund agent", instructions="You handle refunds.", model="gpt-4o")
    triage = Agent(
        name="Triage agent",
        instructions="Route the user.",
        model="gpt-4o",
        handoffs=[billing, handoff(refunds)],
    )
    fake.script(
        FakeOpenAI.tool_calls([("transfer_to_billing_agent", {"reason": "billing"})]),
        FakeOpenAI.text("Your invoice is paid."),
    )

    result = Runner.run_sync(triage, "Is my invoice paid?", runtime=runtime)

    assert result.final_output == "Your invoice is paid."
    offered = {t["function"]["name"]: t["function"]["description"] for t in fake.requests[0]["tools"]}
    assert set(offered) == {"transfer_to_billing_agent", "transfer_to_refund_agent"}
    assert "Answers billing questions." in offered["transfer_to_billing_agent"]
    assert fake.requests[1]["messages"][0] == {"role": "system", "content": "You handle billing."}
    assert "Is my invoice paid?" in fake.requests[1]["messages"][-1]["content"]


def test_agent_as_tool_is_a_child_execution(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    spanish = Agent(name="spanish", instructions="Translate to Spanish.", model="gpt-4o")
    orchestrator = Agent(
        name="orchestrator",
        instructions="Use your tools.",
        model="gpt-4o",
        tools=[spanish.as_tool(tool_name="to_spanish", tool_description="Translate to Spanish")],
    )
    fake.script(
        FakeOpenAI.tool_calls([("to_spanish", {"request": "hello"})]),
        FakeOpenAI.text("hola"),
        FakeOpenAI.text("In Spanish: hola"),
    )
    result = runtime.run(orchestrator, "Say hello in Spanish")
    assert result.status == "COMPLETED", result.error
    assert result.output == "In Spanish: hola"
    assert result.tool_calls[0]["result"] == "hola"
    assert fake.requests[1]["messages"][-1]["content"] == "hello"


def test_cyclic_handoffs_run_as_a_swarm(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    triage = Agent(name="Triage", instructions="Route.", model="gpt-4o")
    faq = Agent(name="FAQ", instructions="Answer FAQs.", model="gpt-4o", handoffs=[triage])
    booking = Agent(name="Booking", instructions="Book seats.", model="gpt-4o", handoffs=[triage])
    triage.handoffs.extend([faq, booking])
    fake.script(
        FakeOpenAI.tool_calls([("transfer_to_faq", {})]),
        FakeOpenAI.tool_calls([("transfer_to_triage", {})]),
        FakeOpenAI.text("Anything else?"),
    )
    result = Runner.run_sync(triage, "How many seats?", runtime=runtime)
    assert result.final_output == "Anything else?", result.error
    assert [r["messages"][0]["content"] for r in fake.requests] == ["Route.", "Answer FAQs.", "Route."]
    faq_tools = {t["function"]["name"] for t in fake.requests[1]["tools"]}
    assert "transfer_to_triage" in faq_tools


def test_an_agent_that_is_its_own_agent_tool_is_refused(runtime: AgentRuntime) -> None:
    a = Agent(name="a", model="gpt-4o")
    a.tools.append(a.as_tool(tool_name="again", tool_description="me"))
    with pytest.raises(ConfigurationError, match=r"agent tool of itself \(a -> a\)"):
        runtime.start(a, "hi")


# --------------------------------------------------------------------------- streaming, approvals


def test_streaming_events(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="streamer", instructions="Help.", model="gpt-4o", tools=[get_weather])
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "Rome"})]), FakeOpenAI.text("Warm."))
    events = list(runtime.stream(agent, "Weather in Rome?"))
    types = [e.type for e in events]
    assert "tool_call" in types and "tool_result" in types and types[-1] == "done"


def test_runner_run_streamed(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    import asyncio

    agent = Agent(name="streamer2", instructions="Help.", model="gpt-4o", tools=[get_weather])
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "Rome"})]), FakeOpenAI.text("Warm."))

    async def follow() -> tuple[list[str], Any]:
        streamed = Runner.run_streamed(agent, "Weather in Rome?", runtime=runtime)
        seen = [event.type async for event in streamed.stream_events()]
        return seen, streamed.final_output

    seen, final = asyncio.run(follow())
    assert "tool_result" in seen and seen[-1] == "done"
    assert final == "Warm."

    async def reference_form() -> Any:
        fake.script(FakeOpenAI.text("Mild."))
        stream = await Runner.run_streamed(agent, "And tomorrow?", runtime=runtime)
        assert isinstance(stream, AsyncAgentStream)
        return [event async for event in stream][-1].output

    assert asyncio.run(reference_form()) == "Mild."

    async def tripped() -> None:
        guarded = Agent(
            name="streamer3", instructions="Help.", model="gpt-4o", input_guardrails=[no_homework]
        )
        streamed = Runner.run_streamed(guarded, "my homework", runtime=runtime)
        async for _ in streamed.stream_events():
            pass

    with pytest.raises(agents.InputGuardrailTripwireTriggered):
        asyncio.run(tripped())


def test_approval_required_tool_waits_for_a_person(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="banker", instructions="Move money.", model="gpt-4o", tools=[transfer_funds])
    fake.script(FakeOpenAI.tool_calls([("transfer_funds", {"amount": 50})]), FakeOpenAI.text("Moved."))
    handle = runtime.start(agent, "Move 50")
    _wait_until_waiting(runtime, handle.execution_id)
    assert fake.request_count == 1  # nothing ran before the decision
    handle.approve()
    result = handle.join(timeout=30)
    assert result.output == "Moved."
    assert result.tool_calls[0]["result"] == "moved 50.0"
    assert result.tool_calls[0]["approval"]["approved"] is True


def test_rejected_tool_is_not_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="banker2", instructions="Move money.", model="gpt-4o", tools=[transfer_funds])
    fake.script(FakeOpenAI.tool_calls([("transfer_funds", {"amount": 9})]), FakeOpenAI.text("Not moved."))
    handle = runtime.start(agent, "Move 9")
    _wait_until_waiting(runtime, handle.execution_id)
    handle.reject("no")
    result = handle.join(timeout=30)
    assert result.output == "Not moved."
    assert result.tool_calls[0].get("result") != "moved 9.0"


@function_tool(timeout=0.2)
async def slow_lookup(topic: str) -> str:
    """A lookup that takes too long."""
    import asyncio

    await asyncio.sleep(5)
    return "late"


def test_the_sdks_tool_timeout_applies(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="impatient", instructions="Help.", model="gpt-4o", tools=[slow_lookup])
    fake.script(FakeOpenAI.tool_calls([("slow_lookup", {"topic": "x"})]), FakeOpenAI.text("gave up"))
    started = time.monotonic()
    result = runtime.run(agent, "look it up")
    assert result.output == "gave up"
    assert result.tool_calls[0]["result"] == "Tool 'slow_lookup' timed out after 0.2 seconds."
    assert time.monotonic() - started < 4


# --------------------------------------------------------------------------- guardrails


@input_guardrail
def no_homework(ctx: RunContextWrapper[Any], agent: Agent[Any], content: Any) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info="homework", tripwire_triggered="homework" in str(content))


@output_guardrail
def typed_check(ctx: RunContextWrapper[Any], agent: Agent[Any], output: Any) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(
        output_info=type(output).__name__, tripwire_triggered=output.temperature > 100
    )


def test_input_guardrail_tripwire_fails_the_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="tutor", instructions="Help.", model="gpt-4o", input_guardrails=[no_homework])
    result = runtime.run(agent, "do my homework")
    assert result.status == "FAILED"
    assert "no_homework" in (result.error or "")
    assert fake.request_count == 0


def test_runner_raises_the_sdks_tripwire_exceptions(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    tutor = Agent(name="tutor2", instructions="Help.", model="gpt-4o", input_guardrails=[no_homework])
    with pytest.raises(agents.InputGuardrailTripwireTriggered) as raised:
        Runner.run_sync(tutor, "do my homework", runtime=runtime)
    assert raised.value.guardrail_result.guardrail is no_homework
    assert "homework" in str(raised.value.guardrail_result.output.output_info)
    checked = Agent(
        name="checked2",
        instructions="Report.",
        model="gpt-4o",
        output_type=WeatherReport,
        output_guardrails=[typed_check],
    )
    fake.script(FakeOpenAI.text(json.dumps({"city": "Hell", "temperature": 500})))
    with pytest.raises(agents.OutputGuardrailTripwireTriggered) as out:
        Runner.run_sync(checked, "weather in hell", runtime=runtime)
    assert out.value.guardrail_result.guardrail is typed_check
    assert fake.request_count == 1


def test_output_guardrail_sees_the_typed_output(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(
        name="checked",
        instructions="Report.",
        model="gpt-4o",
        output_type=WeatherReport,
        output_guardrails=[typed_check],
    )
    fake.script(FakeOpenAI.text(json.dumps({"city": "Hell", "temperature": 500})))
    failed = runtime.run(agent, "weather in hell")
    assert failed.status == "FAILED" and "typed_check" in (failed.error or "")
    fake.script(FakeOpenAI.text(json.dumps({"city": "Oslo", "temperature": 3})))
    passed = runtime.run(agent, "weather in Oslo")
    assert passed.status == "COMPLETED" and passed.output == WeatherReport(city="Oslo", temperature=3)


@tool_input_guardrail
def no_secret_cities(data: Any) -> ToolGuardrailFunctionOutput:
    args = json.loads(data.context.tool_arguments)
    if args.get("city") == "Area 51":
        return ToolGuardrailFunctionOutput.reject_content("That place is classified.")
    return ToolGuardrailFunctionOutput.allow()


@function_tool(tool_input_guardrails=[no_secret_cities])
def guarded_weather(city: str) -> str:
    """Weather, except for secret places."""
    return f"sunny in {city}"


def test_tool_input_guardrail_rejects_inside_the_step(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    agent = Agent(name="guarded", instructions="Help.", model="gpt-4o", tools=[guarded_weather])
    fake.script(
        FakeOpenAI.tool_calls([("guarded_weather", {"city": "Area 51"})]),
        FakeOpenAI.tool_calls([("guarded_weather", {"city": "Paris"})]),
        FakeOpenAI.text("ok"),
    )
    result = runtime.run(agent, "weather")
    assert [c["result"] for c in result.tool_calls] == ["That place is classified.", "sunny in Paris"]


# --------------------------------------------------------------------------- mapping details


def test_detection_and_model_names() -> None:
    import agentspan
    import agentspan.agents
    from agentspan.agents import openai_compat

    assert agentspan.Runner is agentspan.agents.Runner is openai_compat.Runner
    assert agentspan.RunResult is openai_compat.RunResult
    assert detect_framework(Agent(name="x")) == "openai_agents"
    assert detect_framework(object()) is None
    assert native_model("gpt-4o") == "openai/gpt-4o"
    assert native_model("litellm/anthropic/claude-sonnet-4-6") == "anthropic/claude-sonnet-4-6"
    assert native_model("anthropic/claude-sonnet-4-6") == "anthropic/claude-sonnet-4-6"


def test_unsupported_features_are_refused_by_name() -> None:
    import asyncio

    hosted = Agent(name="searcher", model="gpt-4o", tools=[agents.WebSearchTool()])
    with pytest.raises(ConfigurationError, match="WebSearchTool.*not supported yet"):
        asyncio.run(to_agent(hosted))
    stop_first = Agent(name="stopper", model="gpt-4o", tool_use_behavior="stop_on_first_tool")
    with pytest.raises(ConfigurationError, match="tool_use_behavior"):
        asyncio.run(to_agent(stop_first))
    custom_model = Agent(name="custom", model=agents.OpenAIChatCompletionsModel("gpt-4o", openai_client=None))
    with pytest.raises(ConfigurationError, match="Model object"):
        asyncio.run(to_agent(custom_model))


def test_a_tool_alone_is_not_an_agent(runtime: AgentRuntime) -> None:
    with pytest.raises(TypeError, match="expected an Agent or a deployed agent's name, got FunctionTool"):
        runtime.start(get_weather, "hi")


def test_runner_refuses_a_non_json_context(runtime: AgentRuntime) -> None:
    class Deps:
        pass

    with pytest.raises(ConfigurationError, match="JSON object"):
        Runner.run_sync(Agent(name="x", model="gpt-4o"), "hi", context=Deps(), runtime=runtime)


def test_adapter_without_the_package_names_the_install_command() -> None:
    code = (
        "import sys\n"
        "sys.modules['agents'] = None\n"  # as if openai-agents were not installed
        "import agentspan.frameworks.openai_agents\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "pip install 'agentspan[openai-agents]'" in done.stderr


def test_options_without_an_equivalent_are_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    def on_transfer(ctx: RunContextWrapper[Any]) -> None:
        pass

    plain = Agent(name="plain", model="gpt-4o", handoffs=[handoff(Agent(name="t1", model="gpt-4o"))])
    with caplog.at_level("WARNING", logger="agentspan.frameworks"):
        asyncio.run(to_agent(plain))
    assert caplog.text == ""
    noisy = Agent(
        name="noisy",
        model="gpt-4o",
        model_settings=ModelSettings(top_p=0.5, temperature=0.1),
        handoffs=[handoff(Agent(name="t2", model="gpt-4o"), on_handoff=on_transfer)],
    )
    with caplog.at_level("WARNING", logger="agentspan.frameworks"):
        converted = asyncio.run(to_agent(noisy))
    assert "ignoring top_p" in caplog.text
    assert "handoff 'transfer_to_t2'" in caplog.text
    assert converted.temperature == 0.1 and [a.name for a in converted.agents] == ["t2"]


def test_the_sdk_imports_no_framework_until_one_is_used() -> None:
    code = (
        "import sys, agentspan, agentspan.agents\n"
        "from agentspan import Runner\n"
        "print(sorted(m for m in sys.modules if m == 'agents' or m.startswith(('agents.', 'agentspan.frameworks'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_run_config_tool_switches_and_output_schemas_map() -> None:
    import asyncio

    @function_tool(is_enabled=False)
    def hidden() -> str:
        """Never offered."""
        return "no"

    @function_tool(is_enabled=lambda ctx, agent: ctx.context["admin"])
    def admin_only() -> str:
        """Offered to admins."""
        return "yes"

    helper = Agent(name="helper", model="gpt-4o")
    source = Agent(
        name="mapped",
        model="gpt-4o",
        model_settings=ModelSettings(temperature=0.9, max_tokens=50),
        output_type=agents.AgentOutputSchema(WeatherReport, strict_json_schema=False),
        tools=[
            get_weather,
            hidden,
            admin_only,
            helper.as_tool("helper", "Ask the helper", needs_approval=True),
        ],
    )
    config = agents.RunConfig(model="gpt-4.1-mini", model_settings=ModelSettings(temperature=0.1))
    converted = asyncio.run(to_agent(source, context={"admin": False}, run_config=config))
    assert converted.model == "openai/gpt-4.1-mini"
    assert (converted.temperature, converted.max_tokens) == (0.1, 50)
    assert converted.output_type is WeatherReport
    names = {t.name: t for t in converted.tools}
    assert set(names) == {"get_weather", "helper"}
    assert names["helper"].tool_type == "agent_tool" and names["helper"].approval_required is True
    assert names["helper"].config["agent"].model == "openai/gpt-4.1-mini"
    admin = asyncio.run(to_agent(source, context={"admin": True}))
    assert {t.name for t in admin.tools} == {"get_weather", "admin_only", "helper"}
    served = asyncio.run(to_agent(source, serving=True))  # a worker serves every tool a run may offer
    assert {t.name for t in served.tools} == {"get_weather", "admin_only", "helper"}
