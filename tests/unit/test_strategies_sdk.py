"""Termination conditions, handoff conditions, gates, ``scatter_gather`` and the worker
tasks that let the server consult an agent's Python decision functions."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest

from agentspan.agents import (
    Agent,
    HandoffCondition,
    MaxMessageTermination,
    OnCondition,
    OnTextMention,
    OnToolResult,
    StopMessageTermination,
    TerminalToolError,
    TerminationCondition,
    TerminationResult,
    TextMentionTermination,
    TokenUsageTermination,
    ToolDef,
    agent_tool,
    scatter_gather,
    tool,
)
from agentspan.agents._errors import ConfigurationError
from agentspan.agents._schema import coerce_arguments, context_parameter
from agentspan.agents._serialize import serialize_agent
from agentspan.agents._system_functions import collect_system_functions
from agentspan.agents.gate import TextGate
from agentspan.agents.termination import _AndTermination, _OrTermination

MODEL = "openai/gpt-4o"


def wire(agent: Agent) -> dict[str, Any]:
    return serialize_agent(agent).wire()


def call(definition: ToolDef, task_input: dict[str, Any]) -> Any:
    """Run a task the way the worker does: bind the input dict by name, then call."""
    assert definition.func is not None
    assert context_parameter(definition.func) is None
    return definition.func(**coerce_arguments(definition.func, task_input))


# --------------------------------------------------------------------------- termination


def test_text_mention_is_case_insensitive_by_default() -> None:
    condition = TextMentionTermination("done")
    assert condition.should_terminate({"result": "All DONE here"}).should_terminate
    assert not condition.should_terminate({"result": "still working"}).should_terminate
    assert not condition.should_terminate({}).should_terminate
    strict = TextMentionTermination("done", case_sensitive=True)
    assert not strict.should_terminate({"result": "DONE"}).should_terminate
    outcome = strict.should_terminate({"result": "done."})
    assert outcome == TerminationResult(True, "text 'done' mentioned")


def test_stop_message_needs_an_exact_stripped_match() -> None:
    condition = StopMessageTermination()
    assert condition.should_terminate({"result": "  TERMINATE\n"}).should_terminate
    assert not condition.should_terminate({"result": "TERMINATE now"}).should_terminate
    assert not condition.should_terminate({"result": "terminate"}).should_terminate
    assert StopMessageTermination("BYE").should_terminate({"result": "BYE"}).reason


def test_max_message_counts_messages_then_iterations() -> None:
    condition = MaxMessageTermination(3)
    assert not condition.should_terminate({"messages": [1, 2]}).should_terminate
    assert condition.should_terminate({"messages": [1, 2, 3]}).should_terminate
    assert condition.should_terminate({"messages": [], "iteration": 3}).should_terminate
    assert not condition.should_terminate({"iteration": 2}).should_terminate
    assert condition.should_terminate({"messages": [1, 2, 3, 4]}).reason == "reached 4 messages (limit 3)"
    for bad in (0, -1):
        with pytest.raises(ValueError):
            MaxMessageTermination(bad)


def test_token_usage_checks_each_limit() -> None:
    with pytest.raises(ValueError):
        TokenUsageTermination()
    total = TokenUsageTermination(max_total_tokens=100)
    assert not total.should_terminate({}).should_terminate
    assert not total.should_terminate({"token_usage": {"total_tokens": 99}}).should_terminate
    outcome = total.should_terminate({"token_usage": {"total_tokens": 100}})
    assert outcome == TerminationResult(True, "total tokens 100 reached the limit of 100")
    split = TokenUsageTermination(max_prompt_tokens=50, max_completion_tokens=10)
    assert split.should_terminate({"token_usage": {"prompt_tokens": 60}}).should_terminate
    assert split.should_terminate({"token_usage": {"completion_tokens": 10}}).should_terminate
    assert not split.should_terminate(
        {"token_usage": {"prompt_tokens": 1, "total_tokens": 10**6}}
    ).should_terminate


def test_and_needs_all_and_joins_reasons() -> None:
    both = TextMentionTermination("a") & TextMentionTermination("b")
    assert isinstance(both, _AndTermination)
    assert not both.should_terminate({"result": "a"}).should_terminate
    assert both.should_terminate({"result": "a b"}) == TerminationResult(
        True, "text 'a' mentioned AND text 'b' mentioned"
    )


def test_or_returns_the_first_triggering_result() -> None:
    either = MaxMessageTermination(10) | StopMessageTermination() | TextMentionTermination("x")
    assert isinstance(either, _OrTermination)
    assert not either.should_terminate({"result": "nothing"}).should_terminate
    outcome = either.should_terminate({"result": "TERMINATE"})
    assert outcome == TerminationResult(True, "stop message 'TERMINATE' received")


def test_combinators_flatten_same_kind_only() -> None:
    a, b, c, d = (TextMentionTermination(t) for t in "abcd")
    chained = a & b & c
    assert isinstance(chained, _AndTermination)
    assert chained.conditions == [a, b, c]
    both_sides = (a & b) & (c & d)
    assert isinstance(both_sides, _AndTermination)
    assert both_sides.conditions == [a, b, c, d]
    ors = (a | b) | (c | d)
    assert isinstance(ors, _OrTermination)
    assert ors.conditions == [a, b, c, d]
    mixed = (a | b) & c
    assert isinstance(mixed, _AndTermination)
    assert len(mixed.conditions) == 2
    assert isinstance(mixed.conditions[0], _OrTermination)


def test_termination_wire_shapes() -> None:
    condition = (TextMentionTermination("DONE", case_sensitive=True) | StopMessageTermination()) & (
        MaxMessageTermination(5) | TokenUsageTermination(max_total_tokens=1000, max_completion_tokens=200)
    )
    agent = Agent("a", model=MODEL, termination=condition)
    assert wire(agent)["termination"] == {
        "type": "and",
        "conditions": [
            {
                "type": "or",
                "conditions": [
                    {"type": "text_mention", "text": "DONE", "caseSensitive": True},
                    {"type": "stop_message", "stopMessage": "TERMINATE"},
                ],
            },
            {
                "type": "or",
                "conditions": [
                    {"type": "max_message", "maxMessages": 5},
                    {"type": "token_usage", "maxTotalTokens": 1000, "maxCompletionTokens": 200},
                ],
            },
        ],
    }
    assert TokenUsageTermination(max_prompt_tokens=7).to_config() == {
        "type": "token_usage",
        "maxPromptTokens": 7,
    }


def test_custom_termination_condition_cannot_be_sent() -> None:
    class Custom(TerminationCondition):
        def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
            return TerminationResult(True, "always")

    assert Custom().should_terminate({}).should_terminate
    with pytest.raises(ConfigurationError, match="stop_when"):
        wire(Agent("a", model=MODEL, termination=Custom()))


def test_termination_needs_no_worker() -> None:
    agent = Agent("a", model=MODEL, termination=MaxMessageTermination(2))
    assert collect_system_functions(agent) == {}


# --------------------------------------------------------------------------- handoffs


def test_handoff_semantics() -> None:
    assert not HandoffCondition("x").should_handoff({"result": "anything"})
    on_tool = OnToolResult("billing", tool_name="lookup", result_contains="overdue")
    assert on_tool.should_handoff({"tool_name": "lookup", "tool_result": {"status": "overdue"}})
    assert not on_tool.should_handoff({"tool_name": "lookup", "tool_result": "paid"})
    assert not on_tool.should_handoff({"tool_name": "other", "tool_result": "overdue"})
    assert OnToolResult("b", tool_name="lookup").should_handoff({"tool_name": "lookup"})
    mention = OnTextMention("support", text="Refund")
    assert mention.should_handoff({"result": "I want a REFUND"})
    assert not mention.should_handoff({"result": "hello"})
    assert not mention.should_handoff({})
    assert not OnCondition("x").should_handoff({})
    assert OnCondition("x", condition=lambda ctx: "go" in ctx["result"]).should_handoff({"result": "go"})


def test_on_condition_exception_means_no_handoff(caplog: pytest.LogCaptureFixture) -> None:
    def broken(ctx: dict[str, Any]) -> bool:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="agentspan.agents"):
        assert OnCondition("x", condition=broken).should_handoff({}) is False
    assert "boom" in caplog.text


def test_handoff_wire_shapes() -> None:
    peers = [Agent("billing", model=MODEL), Agent("support", model=MODEL), Agent("ops", model=MODEL)]
    agent = Agent(
        "triage",
        model=MODEL,
        agents=peers,
        strategy="swarm",
        handoffs=[
            OnToolResult("billing", tool_name="lookup"),
            OnToolResult("billing", tool_name="lookup", result_contains="overdue"),
            OnTextMention("support", text="help"),
            OnCondition("ops", condition=lambda ctx: True),
        ],
    )
    assert wire(agent)["handoffs"] == [
        {"target": "billing", "type": "on_tool_result", "toolName": "lookup"},
        {"target": "billing", "type": "on_tool_result", "toolName": "lookup", "resultContains": "overdue"},
        {"target": "support", "type": "on_text_mention", "text": "help"},
        {"target": "ops", "type": "on_condition", "taskName": "triage_handoff_ops"},
    ]


# --------------------------------------------------------------------------- gates, router, stop_when


def test_text_gate() -> None:
    gate = TextGate("STOP")
    assert gate.should_stop("please STOP")
    assert not gate.should_stop("please stop")
    assert TextGate("stop", case_sensitive=False).should_stop("STOP")
    agent = Agent("step", model=MODEL, gate=gate)
    assert wire(agent)["gate"] == {"type": "text_contains", "text": "STOP", "caseSensitive": True}
    assert collect_system_functions(agent) == {}


def test_function_task_names_on_the_wire() -> None:
    a, b = Agent("a", model=MODEL), Agent("b", model=MODEL)
    router = Agent("r", model=MODEL, agents=[a, b], strategy="router", router=lambda prompt: "a")
    assert wire(router)["router"] == {"taskName": "r_router_fn"}
    gated = Agent("g", model=MODEL, gate=lambda output: True)
    assert wire(gated)["gate"] == {"taskName": "g_gate"}
    stopping = Agent("s", model=MODEL, stop_when=lambda ctx: False)
    assert wire(stopping)["stopWhen"] == {"taskName": "s_stop_when"}


# --------------------------------------------------------------------------- scatter_gather


def test_scatter_gather_structure() -> None:
    worker = Agent("researcher", model="anthropic/claude-sonnet-4")
    extra = ToolDef(name="notes", description="notes", func=lambda: "n")
    coordinator = scatter_gather("team", worker, instructions="Cite sources.", tools=[extra], max_turns=7)
    assert coordinator.name == "team"
    assert coordinator.model == worker.model
    assert coordinator.timeout_seconds == 300
    assert coordinator.max_turns == 7
    first, second = coordinator.tools
    assert first.tool_type == "agent_tool"
    assert first.name == "researcher"
    assert first.config == {"agent": worker}
    assert second is extra
    assert isinstance(coordinator.instructions, str)
    assert "in parallel" in coordinator.instructions
    assert "researcher" in coordinator.instructions
    assert coordinator.instructions.endswith("\n\nCite sources.")


def test_scatter_gather_options() -> None:
    worker = Agent("w", model=MODEL)
    coordinator = scatter_gather(
        "c",
        worker,
        model="openai/gpt-4o-mini",
        retry_count=4,
        retry_delay_seconds=2.5,
        fail_fast=True,
        timeout_seconds=60,
    )
    tool_def = coordinator.tools[0]
    assert coordinator.model == "openai/gpt-4o-mini"
    assert coordinator.timeout_seconds == 60
    assert (tool_def.retry_count, tool_def.retry_delay_seconds) == (4, 2.5)
    assert tool_def.config["optional"] is False
    assert "optional" not in scatter_gather("d", worker).tools[0].config
    spec = wire(coordinator)
    assert spec["tools"][0]["toolType"] == "agent_tool"
    assert spec["tools"][0]["config"]["agentConfig"]["name"] == "w"


# --------------------------------------------------------------------------- system functions


def test_router_function_task() -> None:
    a, b = Agent("billing", model=MODEL), Agent("support", model=MODEL)
    seen: list[str] = []

    def route(prompt: str) -> Any:
        seen.append(prompt)
        return b if "help" in prompt else "billing"

    team = Agent("desk", model=MODEL, agents=[a, b], strategy="router", router=route)
    task = collect_system_functions(team)["desk_router_fn"]
    assert task.retry_count == 2
    names = ["billing", "support"]
    assert call(task, {"prompt": "need help", "agents": names}) == {"selected_agent": "support"}
    assert call(task, {"prompt": "invoice", "agents": names}) == {"selected_agent": "billing"}
    assert seen == ["need help", "invoice"]


def test_router_function_rejects_unknown_choices() -> None:
    a = Agent("a", model=MODEL)
    team = Agent("t", model=MODEL, agents=[a], strategy="router", router=lambda prompt: "nobody")
    task = collect_system_functions(team)["t_router_fn"]
    with pytest.raises(TerminalToolError, match="nobody"):
        call(task, {"prompt": "x", "agents": ["a"]})
    none_router = Agent("u", model=MODEL, agents=[a], strategy="router", router=lambda prompt: None)
    with pytest.raises(TerminalToolError):
        call(collect_system_functions(none_router)["u_router_fn"], {"prompt": "x", "agents": ["a"]})


def test_stop_when_task_gets_one_context_dict() -> None:
    received: list[dict[str, Any]] = []

    def stop(ctx: dict[str, Any]) -> bool:
        received.append(ctx)
        return int(ctx["iteration"]) >= 2

    # No tools at all: the stop_when function alone must still be served.
    agent = Agent("lonely", model=MODEL, stop_when=stop)
    functions = collect_system_functions(agent)
    assert list(functions) == ["lonely_stop_when"]
    task = functions["lonely_stop_when"]
    assert task.retry_count == 2
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    task_input = {"result": "hi", "messages": [{"role": "user"}], "iteration": 2, "token_usage": usage}
    assert call(task, task_input) == {"should_stop": True}
    assert received[0] == task_input
    assert call(task, {"result": "hi", "messages": [], "iteration": 1, "token_usage": {}}) == {
        "should_stop": False
    }


async def _async_stop(ctx: dict[str, Any]) -> bool:
    return bool(ctx["result"] == "done")


def test_async_decision_functions_are_awaited() -> None:
    task = collect_system_functions(Agent("a", model=MODEL, stop_when=cast(Any, _async_stop)))["a_stop_when"]
    assert call(task, {"result": "done", "messages": [], "iteration": 0, "token_usage": {}}) == {
        "should_stop": True
    }


def test_gate_task(caplog: pytest.LogCaptureFixture) -> None:
    received: list[Any] = []

    def gate(output: dict[str, Any]) -> bool:
        received.append(output)
        if output["result"] == "explode":
            raise RuntimeError("gate broke")
        return "ok" in output["result"]

    task = collect_system_functions(Agent("step", model=MODEL, gate=gate))["step_gate"]
    assert task.retry_count == 2
    assert call(task, {"result": "ok then"}) == {"decision": "continue"}
    assert received == [{"result": "ok then"}]
    assert call(task, {"result": "nope"}) == {"decision": "stop"}
    with caplog.at_level(logging.ERROR, logger="agentspan.agents"):
        assert call(task, {"result": "explode"}) == {"decision": "continue"}
    assert "gate broke" in caplog.text


def test_on_condition_task(caplog: pytest.LogCaptureFixture) -> None:
    received: list[dict[str, Any]] = []

    def wants_ops(ctx: dict[str, Any]) -> bool:
        received.append(ctx)
        if ctx["result"] == "explode":
            raise ValueError("condition broke")
        return ctx["active_agent"] == "triage" and "outage" in ctx["result"]

    agent = Agent(
        "triage",
        model=MODEL,
        agents=[Agent("ops", model=MODEL), Agent("billing", model=MODEL)],
        strategy="swarm",
        handoffs=[
            OnCondition("ops", condition=wants_ops),
            OnTextMention("billing", text="invoice"),
            OnToolResult("billing", tool_name="lookup"),
        ],
    )
    functions = collect_system_functions(agent)
    assert list(functions) == ["triage_handoff_ops"]
    task = functions["triage_handoff_ops"]
    assert task.retry_count == 2
    messages = [{"role": "assistant", "content": "outage"}]
    task_input = {"result": "an outage", "active_agent": "triage", "messages": messages}
    assert call(task, task_input) == {"handoff": True}
    assert {k: received[0][k] for k in task_input} == task_input
    assert call(task, {"result": "fine", "active_agent": "triage", "messages": []}) == {"handoff": False}
    with caplog.at_level(logging.ERROR, logger="agentspan.agents"):
        assert call(task, {"result": "explode", "active_agent": "triage", "messages": []}) == {
            "handoff": False
        }
    assert "condition broke" in caplog.text


def test_system_functions_walk_the_whole_tree() -> None:
    @tool
    def lookup(order_id: str) -> str:
        """Look up an order."""
        return order_id

    leaf = Agent("leaf", model=MODEL, tools=[lookup], stop_when=lambda ctx: True)
    behind_tool = Agent("helper", model=MODEL, gate=lambda output: True)
    chooser = Agent("chooser", model=MODEL, stop_when=lambda ctx: False)
    routed = Agent(
        "routed",
        model=MODEL,
        agents=[Agent("x", model=MODEL), Agent("y", model=MODEL)],
        strategy="router",
        router=chooser,
    )
    swarm = Agent(
        "swarm",
        model=MODEL,
        agents=[Agent("p", model=MODEL)],
        strategy="swarm",
        handoffs=[OnCondition("p", condition=lambda ctx: False)],
    )
    fn_router = Agent("fn_router", model=MODEL, agents=[leaf], strategy="router", router=lambda p: "leaf")
    root = Agent(
        "root",
        model=MODEL,
        tools=[agent_tool(behind_tool)],
        agents=[fn_router, routed, swarm],
        stop_when=lambda ctx: False,
    )
    assert sorted(collect_system_functions(root)) == [
        "chooser_stop_when",
        "fn_router_router_fn",
        "helper_gate",
        "leaf_stop_when",
        "root_stop_when",
        "swarm_handoff_p",
    ]
    assert all(d.func is not None and d.retry_count == 2 for d in collect_system_functions(root).values())


def test_conflicting_functions_under_one_task_name() -> None:
    first = Agent("same", model=MODEL, stop_when=lambda ctx: True)
    second = Agent("same", model=MODEL, stop_when=lambda ctx: False)
    root = Agent("root", model=MODEL, tools=[agent_tool(first, name="one"), agent_tool(second, name="two")])
    with pytest.raises(ConfigurationError, match="same_stop_when"):
        collect_system_functions(root)


def test_shared_agent_is_collected_once() -> None:
    shared = Agent("shared", model=MODEL, stop_when=lambda ctx: True)
    root = Agent("root", model=MODEL, tools=[agent_tool(shared, name="one"), agent_tool(shared, name="two")])
    assert list(collect_system_functions(root)) == ["shared_stop_when"]
