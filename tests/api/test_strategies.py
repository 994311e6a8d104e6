"""Every multi-agent strategy, end to end on a real server with scripted models."""

from __future__ import annotations

import time
from typing import Any

import httpx

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ScriptedModel, ToolCall, validate_strategy

from support.servers import ThreadServer


def says(*turns: Any) -> ScriptedModel:
    return ScriptedModel(list(turns))


def fails() -> ScriptedModel:
    """A model whose second call fails: one scripted turn, and then none left."""
    return says(ToolCall("no_such_tool", {}))


def handoff_targets(result: Any) -> list[str]:
    return [e.target for e in result.events if e.type == "handoff"]


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@tool
def check_balance(account_id: str) -> dict[str, Any]:
    """Check account balance."""
    return {"account_id": account_id, "balance": 5432.10}


def test_handoff_passes_control_and_the_child_answers(runtime: AgentRuntime) -> None:
    billing = Agent(
        name="billing",
        model=says(ToolCall("check_balance", {"account_id": "ACC-123"}), "Balance is 5432.10"),
        tools=[check_balance],
    )
    technical = Agent(name="technical", model=says("Have you tried turning it off?"))
    support = Agent(
        name="support",
        model=says(ToolCall("transfer_to_billing", {"reason": "a balance question"})),
        agents=[billing, technical],
        strategy="handoff",
    )
    result = runtime.run(support, "What's the balance on account ACC-123?")
    assert result.status == "COMPLETED" and result.output == "Balance is 5432.10"
    assert handoff_targets(result) == ["billing"]
    event = next(e for e in result.events if e.type == "handoff")
    assert event.data is not None and event.data["source"] == "support"
    validate_strategy(support, result)


def test_blocked_handoff_is_reported_to_the_model(runtime: AgentRuntime) -> None:
    a = Agent(name="helper_a", model=says("from a"))
    b = Agent(name="helper_b", model=says("from b"))
    lead = Agent(
        name="lead",
        model=says(ToolCall("transfer_to_helper_b"), ToolCall("transfer_to_helper_a")),
        agents=[a, b],
        allowed_transitions={"lead": ["helper_a"]},
    )
    result = runtime.run(lead, "go")
    assert result.output == "from a"
    blocked = next(c for c in result.tool_calls if c["name"] == "transfer_to_helper_b")
    assert blocked["status"] == "failed" and "not allowed" in blocked["error"]
    assert handoff_targets(result) == ["helper_a"]


def test_parallel_gathers_every_branch_even_when_one_fails(runtime: AgentRuntime) -> None:
    market = Agent(name="market", model=says("Market is big."))
    risk = Agent(name="risk", model=says("Risks are regulatory."))
    broken = Agent(name="broken", model=fails())
    analysis = Agent(
        name="analysis", model="offline/basic", agents=[market, risk, broken], strategy="parallel"
    )
    result = runtime.run(analysis, "Launching an AI healthcare tool in the US")
    assert result.status == "COMPLETED"
    assert result.sub_results["market"] == "Market is big."
    assert result.sub_results["risk"] == "Risks are regulatory."
    assert "error" in result.sub_results["broken"]
    assert "[market]: Market is big." in result.output and "[risk]:" in result.output
    assert sorted(handoff_targets(result)) == ["broken", "market", "risk"]


def test_router_agent_picks_exactly_one(runtime: AgentRuntime) -> None:
    router = Agent(name="dispatcher", model=says("coder"))
    coder = Agent(name="coder", model=says("def f(): pass"))
    writer = Agent(name="writer", model=says("An essay."))
    team = Agent(
        name="routed", model="offline/basic", agents=[coder, writer], strategy="router", router=router
    )
    result = runtime.run(team, "write a function")
    assert result.output == "def f(): pass"
    assert handoff_targets(result) == ["coder"]
    validate_strategy(team, result)


def test_round_robin_takes_turns_until_max_turns(runtime: AgentRuntime) -> None:
    optimist = Agent(name="optimist", model=says("It will work."))
    skeptic = Agent(name="skeptic", model=says("It will fail."))
    debate = Agent(
        name="debate", model="offline/basic", agents=[optimist, skeptic], strategy="round_robin", max_turns=4
    )
    result = runtime.run(debate, "Will it work?")
    assert handoff_targets(result) == ["optimist", "skeptic", "optimist", "skeptic"]
    assert result.finish_reason == "max_turns"
    assert result.output.count("[optimist]: It will work.") == 2
    validate_strategy(debate, result)


def test_random_picks_are_recorded_and_bounded(runtime: AgentRuntime) -> None:
    agents = [Agent(name=f"voice{i}", model=says(f"voice {i} speaks")) for i in range(3)]
    chorus = Agent(name="chorus", model="offline/basic", agents=agents, strategy="random", max_turns=5)
    result = runtime.run(chorus, "sing")
    picked = handoff_targets(result)
    assert len(picked) == 5 and set(picked) <= {"voice0", "voice1", "voice2"}
    assert [line.split("]")[0][1:] for line in result.output.split("\n\n")] == picked


def test_termination_condition_stops_a_group_chat(runtime: AgentRuntime) -> None:
    from agentspan.agents import TextMentionTermination

    writer = Agent(name="writer", model=says("Draft ready."))
    reviewer = Agent(name="reviewer", model=says("Looks good. APPROVED"))
    team = Agent(
        name="review_loop",
        model="offline/basic",
        agents=[writer, reviewer],
        strategy="round_robin",
        max_turns=10,
        termination=TextMentionTermination("APPROVED"),
    )
    result = runtime.run(team, "write")
    assert handoff_targets(result) == ["writer", "reviewer"]
    assert result.finish_reason == "termination"


def test_swarm_transfers_between_peers(runtime: AgentRuntime) -> None:
    triage = Agent(name="triage", model=says(ToolCall("transfer_to_refunds")))
    refunds = Agent(name="refunds", model=says("Refund issued."))
    desk = says(ToolCall("transfer_to_triage"))
    swarm = Agent(name="desk", model=desk, agents=[triage, refunds], strategy="swarm")
    result = runtime.run(swarm, "I want my money back")
    assert result.output == "Refund issued."
    # The parent is the first member (the reference's member "0"): its model runs first.
    assert handoff_targets(result) == ["desk", "triage", "refunds"]
    validate_strategy(swarm, result)


def test_swarm_parent_answers_itself_and_can_be_transferred_back_to(runtime: AgentRuntime) -> None:
    helper = Agent(name="helper", model=says(ToolCall("transfer_to_lead")))
    lead = Agent(
        name="lead",
        instructions="You lead the team.",
        model=says(ToolCall("transfer_to_helper")),
        agents=[helper],
        strategy="swarm",
        max_turns=3,
    )
    result = runtime.run(lead, "plan the launch")
    # lead -> helper -> back to lead (three turns); its next transfer is past max_turns.
    assert handoff_targets(result) == ["lead", "helper", "lead"]
    assert result.finish_reason == "max_turns"

    alone = Agent(name="solo_lead", model=says("Answered without help."), agents=[helper], strategy="swarm")
    result = runtime.run(alone, "a simple question")
    assert result.output == "Answered without help."
    assert handoff_targets(result) == ["solo_lead"]


def test_swarm_text_mention_handoff_fires(runtime: AgentRuntime) -> None:
    from agentspan.agents import OnTextMention

    front = Agent(name="front", model=says("This needs ESCALATION."))
    manager = Agent(name="manager", model=says("Manager here, resolved."))
    swarm = Agent(
        name="escalating",
        model="offline/basic",
        agents=[front, manager],
        strategy="swarm",
        handoffs=[OnTextMention(target="manager", text="escalation")],
    )
    result = runtime.run(swarm, "help")
    assert result.output == "Manager here, resolved."
    assert handoff_targets(result) == ["escalating", "front", "manager"]


def test_swarm_tool_result_handoff_fires(runtime: AgentRuntime) -> None:
    from agentspan.agents import OnToolResult

    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order."""
        return "order is DISPUTED"

    front = Agent(
        name="front2",
        model=says(ToolCall("lookup_order", {"order_id": "1"}), "never reached"),
        tools=[lookup_order],
    )
    disputes = Agent(name="disputes", model=says("Dispute opened."))
    swarm = Agent(
        name="orders",
        model="offline/basic",
        agents=[front, disputes],
        strategy="swarm",
        handoffs=[OnToolResult(target="disputes", tool_name="lookup_order", result_contains="DISPUTED")],
    )
    result = runtime.run(swarm, "where is my order")
    assert result.output == "Dispute opened."
    assert handoff_targets(result) == ["orders", "front2", "disputes"]


def test_manual_strategy_waits_for_a_human_choice(runtime: AgentRuntime) -> None:
    a = Agent(name="drafter", model=says("a draft"))
    b = Agent(name="polisher", model=says("polished"))
    team = Agent(name="studio", model="offline/basic", agents=[a, b], strategy="manual")
    handle = runtime.start(team, "make something")
    wait_for(lambda: handle.get_status().is_waiting)
    pending = handle.get_status().pending_tool
    assert pending is not None and pending["kind"] == "selection"
    assert pending["parameters"]["options"] == ["drafter", "polisher"]
    handle.respond({"selected": "polisher"})
    wait_for(
        lambda: handle.get_status().is_waiting and "polisher" in str(runtime.get_status(handle.execution_id))
    )
    handle.respond({"selected": None})
    result = handle.join(timeout=10)
    assert result.output == "[polisher]: polished"
    assert handoff_targets(result) == ["polisher"]


def test_three_levels_of_nesting(runtime: AgentRuntime, server: ThreadServer) -> None:
    x = Agent(name="x_research", model=says("x facts"))
    y = Agent(name="y_research", model=says("y facts"))
    research = Agent(name="research", model="offline/basic", agents=[x, y], strategy="parallel")
    writer = Agent(name="writer2", model=says("the article"))
    pipeline = research >> writer
    front = Agent(name="front_desk", model=says(ToolCall(f"transfer_to_{pipeline.name}")), agents=[pipeline])
    result = runtime.run(front, "write about x and y")
    assert result.status == "COMPLETED" and result.output == "the article"
    tree = httpx.get(
        f"{server.api_url}/agent/executions", params={"includeChildren": "true", "size": 200}, timeout=5
    )
    names = {r["agentName"] for r in tree.json()["results"]}
    assert {"front_desk", pipeline.name, "research", "x_research", "y_research", "writer2"} <= names


def test_cancelling_a_parent_cancels_its_children(runtime: AgentRuntime, server: ThreadServer) -> None:
    @tool(approval_required=True)
    def hold() -> str:
        """Waits for a human."""
        return "x"

    slow = Agent(name="slowpoke", model=says(ToolCall("hold")), tools=[hold])
    quick = Agent(name="quickly", model=says("done fast"))
    team = Agent(name="pair", model="offline/basic", agents=[slow, quick], strategy="parallel")
    handle = runtime.start(team, "go")
    children: list[dict[str, Any]] = []

    def slow_child_waiting() -> bool:
        children[:] = httpx.get(
            f"{server.api_url}/agent/executions", params={"parentId": handle.execution_id}, timeout=5
        ).json()["results"]
        return any(c["agentName"] == "slowpoke" and c["waitingReason"] for c in children)

    wait_for(slow_child_waiting)
    handle.cancel("enough")
    assert handle.join(timeout=10).status == "TERMINATED"
    for child in children:
        status = runtime.get_status(child["executionId"]).status
        assert status in ("TERMINATED", "COMPLETED"), (child["agentName"], status)
    slow_id = next(c["executionId"] for c in children if c["agentName"] == "slowpoke")
    assert runtime.get_status(slow_id).status == "TERMINATED"


def test_router_function_runs_as_a_worker_task(runtime: AgentRuntime) -> None:
    seen: list[str] = []

    def route(prompt: str) -> str:
        seen.append(prompt)
        return "billing_desk" if "invoice" in prompt else "tech_desk"

    billing = Agent(name="billing_desk", model=says("Invoice resent."))
    tech = Agent(name="tech_desk", model=says("Rebooted."))
    team = Agent(
        name="fn_routed", model="offline/basic", agents=[billing, tech], strategy="router", router=route
    )
    result = runtime.run(team, "please resend my invoice")
    assert result.output == "Invoice resent." and seen == ["please resend my invoice"]
    assert handoff_targets(result) == ["billing_desk"]


def test_stop_when_function_ends_a_group_chat(runtime: AgentRuntime) -> None:
    def enough(context: dict[str, Any]) -> bool:
        return int(context["iteration"]) >= 3

    a = Agent(name="talker_a", model=says("a"))
    b = Agent(name="talker_b", model=says("b"))
    team = Agent(
        name="chatty",
        model="offline/basic",
        agents=[a, b],
        strategy="round_robin",
        max_turns=10,
        stop_when=enough,
    )
    result = runtime.run(team, "talk")
    assert handoff_targets(result) == ["talker_a", "talker_b", "talker_a"]
    assert result.finish_reason == "stop_when"


def test_gates_stop_a_pipeline_early(runtime: AgentRuntime) -> None:
    from agentspan.agents.gate import TextGate

    checker = Agent(name="checker", model=says("NO_ISSUES found"), gate=TextGate("NO_ISSUES"))
    fixer = Agent(name="fixer", model=says("fixed"))
    result = runtime.run(checker >> fixer, "check the code")
    assert result.output == "NO_ISSUES found" and result.finish_reason == "gate"
    assert handoff_targets(result) == ["checker"]

    calls: list[str] = []

    def keep_going(output: dict[str, Any]) -> bool:
        calls.append(str(output["result"]))
        return True

    first = Agent(name="first_step", model=says("step one"), gate=keep_going)
    second = Agent(name="second_step", model=says("step two"))
    result = runtime.run(first >> second, "go")
    assert result.output == "step two" and calls == ["step one"]


def test_swarm_condition_handoff_runs_the_users_function(runtime: AgentRuntime) -> None:
    from agentspan.agents import OnCondition

    def wants_expert(context: dict[str, Any]) -> bool:
        return "complex" in str(context["result"])

    junior = Agent(name="junior", model=says("This is complex."))
    expert = Agent(name="expert", model=says("Expert answer."))
    swarm = Agent(
        name="clinic",
        model="offline/basic",
        agents=[junior, expert],
        strategy="swarm",
        handoffs=[OnCondition(target="expert", condition=wants_expert)],
    )
    result = runtime.run(swarm, "a question")
    assert result.output == "Expert answer."
    assert handoff_targets(result) == ["clinic", "junior", "expert"]


def test_explicit_sequential_agent_keeps_its_settings_when_composed(runtime: AgentRuntime) -> None:
    from agentspan.agents.gate import TextGate

    a = Agent(name="inner_a", model=says("STOP here"), gate=TextGate("STOP"))
    b = Agent(name="inner_b", model=says("never"))
    inner = Agent(name="inner_pipeline", agents=[a, b], strategy="sequential")
    c = Agent(name="outer_c", model=says("outer done"))
    result = runtime.run(inner >> c, "go")
    # The inner pipeline stopped at its own gate but the outer one carried on.
    assert result.output == "outer done"
    assert handoff_targets(result) == ["inner_pipeline", "outer_c"]


def test_round_robin_respects_allowed_transitions(runtime: AgentRuntime) -> None:
    agents = [Agent(name=n, model=says(f"{n} speaks")) for n in ("first", "second", "third")]
    team = Agent(
        name="constrained",
        model="offline/basic",
        agents=agents,
        strategy="round_robin",
        max_turns=4,
        allowed_transitions={"first": ["third"], "third": ["first"]},
    )
    result = runtime.run(team, "go")
    assert handoff_targets(result) == ["first", "third", "first", "third"]


def test_swarm_blocked_transfer_is_reported_to_the_model(runtime: AgentRuntime) -> None:
    a = Agent(name="peer_a", model=says(ToolCall("transfer_to_peer_c"), ToolCall("transfer_to_peer_b")))
    b = Agent(name="peer_b", model=says("b answers"))
    c = Agent(name="peer_c", model=says("c answers"))
    swarm = Agent(
        name="guarded",
        model="offline/basic",
        agents=[a, b, c],
        strategy="swarm",
        allowed_transitions={"peer_a": ["peer_b"]},
    )
    handle = runtime.start(swarm, "go")
    result = handle.join(timeout=20)
    assert result.output == "b answers"
    assert handoff_targets(result) == ["guarded", "peer_a", "peer_b"]
    first_child = runtime._loop.run(
        runtime._client.request("GET", "/agent/executions", params={"parentId": handle.execution_id})
    )["results"]
    member_a = next(r for r in first_child if r["agentName"] == "peer_a")
    detail = runtime._loop.run(runtime._client.detail(member_a["executionId"]))
    blocked = next(c for c in detail["toolCalls"] if c["name"] == "transfer_to_peer_c")
    assert "not allowed" in blocked["error"]


def test_pausing_a_group_chat_holds_the_next_turn(runtime: AgentRuntime) -> None:
    @tool(approval_required=True)
    def hold_on() -> str:
        """Waits for a human."""
        return "ok"

    first = Agent(name="pauser_one", model=says(ToolCall("hold_on"), "one done"), tools=[hold_on])
    second = Agent(name="pauser_two", model=says("two done"))
    team = Agent(
        name="pausable_team",
        model="offline/basic",
        agents=[first, second],
        strategy="round_robin",
        max_turns=2,
    )
    handle = runtime.start(team, "go")
    children: list[Any] = []

    def child_waiting() -> bool:
        listed = runtime._loop.run(
            runtime._client.request("GET", "/agent/executions", params={"parentId": handle.execution_id})
        )["results"]
        children[:] = [r for r in listed if r.get("waitingReason")]
        return bool(children)

    wait_for(child_waiting)
    handle.pause()
    runtime.approve(children[0]["executionId"])
    time.sleep(0.5)
    assert handle.get_status().status == "PAUSED"
    assert handoff_targets_of(runtime, handle.execution_id) == ["pauser_one"]
    handle.resume()
    result = handle.join(timeout=20)
    assert handoff_targets(result) == ["pauser_one", "pauser_two"]


def handoff_targets_of(runtime: AgentRuntime, execution_id: str) -> list[str]:
    events = runtime._loop.run(runtime._client.request("GET", f"/agent/executions/{execution_id}/events"))
    return [e["target"] for e in events if e["type"] == "handoff"]


def test_a_failing_decision_function_is_retried(runtime: AgentRuntime) -> None:
    calls: list[str] = []

    def flaky_route(prompt: str) -> str:
        calls.append(prompt)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return "retry_target"

    target = Agent(name="retry_target", model=says("routed after a retry"))
    other = Agent(name="retry_other", model=says("wrong"))
    team = Agent(
        name="retrying", model="offline/basic", agents=[target, other], strategy="router", router=flaky_route
    )
    result = runtime.run(team, "go", timeout=30)
    assert result.output == "routed after a retry" and len(calls) == 2


def test_a_spent_budget_stops_a_team(runtime: AgentRuntime, fake_openai: Any) -> None:
    fake_openai.reset()
    agents = [Agent(name=f"spender{i}", model="openai/gpt-4o") for i in range(2)]
    team = Agent(name="spenders", model="offline/basic", agents=agents, strategy="round_robin", max_turns=10)
    result = runtime.run(team, "go", max_tokens_total=20)  # each fake call uses 15 tokens
    assert result.finish_reason == "budget_exceeded"
    assert fake_openai.request_count == 2
    fake_openai.reset()


def test_handoff_call_records_the_childs_answer(runtime: AgentRuntime) -> None:
    helper = Agent(name="helper_x", model=says("helped"))
    lead = Agent(name="lead_x", model=says(ToolCall("transfer_to_helper_x")), agents=[helper])
    result = runtime.run(lead, "go")
    call = next(c for c in result.tool_calls if c["name"] == "transfer_to_helper_x")
    assert call["status"] == "completed" and call["result"] == "helped"


def test_scatter_gather_fans_out_in_parallel_and_can_fail_fast(runtime: AgentRuntime) -> None:
    from agentspan.agents import scatter_gather

    worker = Agent(name="piece_worker", model=says("piece done"))
    coordinator = scatter_gather(
        "fanout",
        worker,
        model=says(
            [
                ToolCall("piece_worker", {"request": "part 1"}),
                ToolCall("piece_worker", {"request": "part 2"}),
            ],
            "merged",
        ),
    )
    result = runtime.run(coordinator, "big job")
    assert result.output == "merged"
    assert [c["result"] for c in result.tool_calls] == ["piece done", "piece done"]

    broken = Agent(name="broken_worker", model=fails())
    strict = scatter_gather(
        "strict_fanout",
        broken,
        model=says(ToolCall("broken_worker", {"request": "x"}), "unreachable"),
        fail_fast=True,
    )
    result = runtime.run(strict, "job")
    assert result.status == "FAILED" and "broken_worker" in (result.error or "")


def test_fresh_context_and_introductions(runtime: AgentRuntime, fake_openai: Any) -> None:
    fake_openai.reset()
    fake_openai.script(*[type(fake_openai).text(t) for t in ("first words", "fresh answer")])
    talker = Agent(name="talker_i", model="openai/gpt-4o", introduction="I open every debate.")
    fresh = Agent(name="fresh_i", model="openai/gpt-4o", include_contents="none")
    team = Agent(
        name="intro_team", model="offline/basic", agents=[talker, fresh], strategy="round_robin", max_turns=2
    )
    result = runtime.run(team, "the topic")
    first_prompt = fake_openai.requests[0]["messages"][-1]["content"]
    second_prompt = fake_openai.requests[1]["messages"][-1]["content"]
    assert "[talker_i]: I open every debate." in first_prompt  # introductions seed the conversation
    assert second_prompt == "the topic"  # include_contents="none": only the request
    assert result.output == "[talker_i]: first words\n\n[fresh_i]: fresh answer"
    fake_openai.reset()


def test_a_later_pipeline_step_gets_the_request_and_the_previous_output(
    runtime: AgentRuntime, server: ThreadServer
) -> None:
    drafter = Agent(name="tide_drafter", model=says("a draft"))
    editor = Agent(name="tide_editor", model=says("edited"))
    result = runtime.run(drafter >> editor, "write about tides")
    assert result.output == "edited"
    children = httpx.get(
        f"{server.api_url}/agent/executions", params={"parentId": result.execution_id}, timeout=5
    ).json()["results"]
    (editor_run,) = [c for c in children if c["agentName"] == "tide_editor"]
    detail = httpx.get(f"{server.api_url}/agent/execution/{editor_run['executionId']}", timeout=5).json()
    asked = [m for m in detail["messages"] if m["role"] == "user"][0]
    assert asked["content"] == "write about tides\n\nPrevious agent output:\na draft"
