"""Conformance: a LangGraph ``StateGraph`` of the user's own nodes (the real ``langgraph``
package) runs as a durable graph on a real server over HTTP, one superstep per durable
step, with the nodes run by the worker in this process."""

from __future__ import annotations

import json
import operator
import time
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langgraph", reason="the langgraph package is not installed")
pytest.importorskip("langchain_openai", reason="the langchain-openai package is not installed")

from langchain_core.messages import AIMessage  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402
from langgraph.types import Send, interrupt  # noqa: E402

from agentspan._core.errors import ConfigurationError  # noqa: E402
from agentspan.agents import AgentConfig, AgentRuntime  # noqa: E402
from agentspan.frameworks.langgraph import to_agent  # noqa: E402

from fakes.openai_server import FakeOpenAI  # noqa: E402
from support.servers import ThreadServer  # noqa: E402

pytestmark = pytest.mark.e2e

RAN: list[str] = []


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.reset()
    RAN.clear()
    return fake_openai


def _wait_until_waiting(runtime: AgentRuntime, execution_id: str) -> None:
    deadline = time.monotonic() + 20
    while not runtime.get_status(execution_id).is_waiting:
        assert time.monotonic() < deadline, "the graph never waited"
        time.sleep(0.05)


# --------------------------------------------------------------------------- nodes and edges


def support_desk() -> Any:
    """classify → (billing | support) → END; billing asks the model (made in the worker)."""

    def classify(state: MessagesState) -> dict[str, Any]:
        RAN.append("classify")
        return {
            "messages": [
                AIMessage(
                    content="route:" + ("billing" if "invoice" in state["messages"][-1].text else "support")
                )
            ]
        }

    def route(state: MessagesState) -> str:
        return "billing" if state["messages"][-1].text == "route:billing" else "support"

    def billing(state: MessagesState) -> dict[str, Any]:
        RAN.append("billing")
        model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test-not-a-real-key")  # type: ignore[arg-type]
        return {"messages": [model.invoke(state["messages"])]}

    def support(state: MessagesState) -> dict[str, Any]:
        RAN.append("support")
        return {"messages": [AIMessage(content="A person will call you.")]}

    builder = StateGraph(MessagesState)
    builder.add_node("classify", classify)
    builder.add_node("billing", billing)
    builder.add_node("support", support)
    builder.add_edge(START, "classify")
    builder.add_conditional_edges("classify", route, ["billing", "support"])
    builder.add_edge("billing", END)
    builder.add_edge("support", END)
    return builder.compile(name="desk")


def test_multi_node_graph_with_a_conditional_edge(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text("Your invoice is paid."))
    result = runtime.run(support_desk(), "Where is my invoice?")
    assert result.status == "COMPLETED", result.error
    assert result.output == "Your invoice is paid."  # the last AI message of the final state
    assert RAN == ["classify", "billing"]  # the other branch never ran
    nodes = [(c["name"], c["args"]) for c in result.tool_calls]
    assert nodes == [("classify", {"superstep": 1}), ("billing", {"superstep": 2})]
    assert result.tool_calls[0]["result"] == {"messages": [{"type": "ai", "content": "route:billing"}]}
    # The model call inside the billing node was made here and reported with its tokens.
    calls = [e for e in result.events if e.type == "llm_call"]
    assert len(calls) == 1 and fake.request_count == 1
    assert (calls[0].data or {}).get("model") == "gpt-4o-mini"
    assert (calls[0].data or {}).get("purpose") == "graph_node"
    assert result.token_usage is not None
    assert result.token_usage.prompt_tokens == 10 and result.token_usage.completion_tokens == 5


def test_streaming_events(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    events = list(runtime.stream(support_desk(), "My screen is broken"))
    types = [e.type for e in events]
    assert types.count("tool_call") == 2 and types.count("tool_result") == 2
    assert [e.tool_name for e in events if e.type == "tool_call"] == ["classify", "support"]
    assert types[-1] == "done" and events[-1].output == "A person will call you."
    assert fake.request_count == 0


# --------------------------------------------------------------------------- Send fan-out


class Batch(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]


def fan_out() -> Any:
    def plan(state: Batch) -> dict[str, Any]:
        return {}

    def spread(state: Batch) -> list[Send]:
        return [Send("square", {"items": [n], "results": []}) for n in state["items"]]

    def square(state: Batch) -> dict[str, Any]:
        RAN.append(f"square {state['items'][0]}")
        return {"results": [state["items"][0] ** 2]}

    def total(state: Batch) -> dict[str, Any]:
        return {"results": [sum(state["results"])]}

    builder = StateGraph(Batch)
    builder.add_node("plan", plan)
    builder.add_node("square", square)
    builder.add_node("total", total)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", spread, ["square"])
    builder.add_edge("square", "total")
    builder.add_edge("total", END)
    return builder.compile(name="squares")


def test_send_fans_out_within_one_superstep(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    result = runtime.run(fan_out(), json.dumps({"items": [2, 3, 4], "results": []}))
    assert result.status == "COMPLETED", result.error
    assert sorted(RAN) == ["square 2", "square 3", "square 4"]
    assert sorted(result.output["results"][:3]) == [4, 9, 16] and result.output["results"][3] == 29
    steps = [(c["name"], c["args"]["superstep"]) for c in result.tool_calls]
    assert steps == [("plan", 1), ("square", 2), ("square", 2), ("square", 2), ("total", 3)]


# --------------------------------------------------------------------------- interrupt()


def reviewed(saver: Any = None) -> Any:
    def draft(state: MessagesState) -> dict[str, Any]:
        RAN.append("draft")
        return {"messages": [AIMessage(content="Refund 40 EUR")]}

    def review(state: MessagesState) -> dict[str, Any]:
        RAN.append("review")
        answer = interrupt({"question": "Send this refund?", "draft": state["messages"][-1].text})
        verdict = "sent" if answer == "yes" else f"dropped ({answer})"
        return {"messages": [AIMessage(content=f"Refund {verdict}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", END)
    return builder.compile(name="refunds", checkpointer=saver)


def test_interrupt_waits_durably_and_another_client_answers(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    handle = runtime.start(reviewed(), "Customer 7 wants a refund")
    _wait_until_waiting(runtime, handle.execution_id)
    pending = runtime.get_status(handle.execution_id).pending_tool
    assert pending is not None and pending["kind"] == "human" and pending["tool_name"] == "review"
    assert pending["parameters"]["interrupt"] == {"question": "Send this refund?", "draft": "Refund 40 EUR"}
    assert RAN == ["draft", "review"]
    # Another client (its own connection, no workers) answers by execution id.
    other = AgentConfig(server_url=server.api_url, auto_start_server=False, auto_start_workers=False)
    with AgentRuntime(config=other) as elsewhere:
        elsewhere.respond(handle.execution_id, {"resume": "yes"})
    result = handle.join(timeout=30)
    assert result.status == "COMPLETED", result.error
    assert result.output == "Refund sent"
    assert RAN == ["draft", "review", "review"]  # the interrupted node runs again on resume, as in LangGraph
    # Superstep 2 ended in the interrupt (no writes); the answered review wrote in superstep 3.
    assert [(c["name"], c["args"]["superstep"]) for c in result.tool_calls] == [("draft", 1), ("review", 3)]
    answers = [e for e in result.events if e.type == "human_input"]
    assert len(answers) == 1 and answers[0].result == {"resume": "yes"}


def test_the_graphs_own_checkpointer_receives_every_checkpoint(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    saver = InMemorySaver()
    graph = reviewed(saver)
    handle = runtime.start(graph, "Customer 8 wants a refund")
    _wait_until_waiting(runtime, handle.execution_id)
    thread = {"configurable": {"thread_id": handle.execution_id}}
    waiting = graph.get_state(thread)
    assert waiting.next == ("review",) and waiting.tasks[0].interrupts  # the interrupt, as LangGraph keeps it
    handle.send("no")  # a text answer resumes with that text
    result = handle.join(timeout=30)
    assert result.output == "Refund dropped (no)"
    final = graph.get_state(thread)
    assert final.next == () and final.values["messages"][-1].text == "Refund dropped (no)"


# --------------------------------------------------------------------------- refusals


def test_a_failing_node_fails_the_run_once(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    def broken(state: MessagesState) -> dict[str, Any]:
        RAN.append("broken")
        raise ValueError("no such customer")

    builder = StateGraph(MessagesState)
    builder.add_node("broken", broken)
    builder.add_edge(START, "broken")
    result = runtime.run(builder.compile(name="broken"), "hi")
    assert result.status == "FAILED"
    assert result.error is not None and "ValueError: no such customer" in result.error
    assert RAN == ["broken"]  # not retried: LangGraph's RetryPolicy is the place for that


def test_state_without_a_json_form_fails_clearly(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    class Opaque:
        pass

    class Holder(TypedDict):
        thing: Any

    builder = StateGraph(Holder)
    builder.add_node("make", lambda state: {"thing": Opaque()})
    builder.add_edge(START, "make")
    result = runtime.run(builder.compile(name="opaque"), json.dumps({"thing": 1}))
    assert result.status == "FAILED"
    # Refused by LangGraph's own serialiser or ours, naming the type; never pickled.
    assert result.error is not None and "Opaque" in result.error and "serializable" in result.error


@pytest.mark.anyio
async def test_what_cannot_be_honoured_is_refused() -> None:
    builder = StateGraph(MessagesState)
    builder.add_node("only", lambda state: {})
    builder.add_edge(START, "only")
    with pytest.raises(ConfigurationError, match=r"interrupt_before='only' \(static breakpoints\)"):
        await to_agent(builder.compile(interrupt_before=["only"]))
    with pytest.raises(ConfigurationError, match="store="):
        await to_agent(builder.compile(store=_store()))
    with pytest.raises(ConfigurationError, match="run context must be a JSON object"):
        await to_agent(builder.compile(), context="ada")
    native = await to_agent(builder.compile(name="my graph"))
    assert native.name == "my_graph" and [t.name for t in native.tools] == ["my_graph_superstep"]
    assert native.model in ("", None)


def _store() -> Any:
    from langgraph.store.memory import InMemoryStore

    return InMemoryStore()


def test_checkpoint_values_round_trip_through_json_and_the_rest_is_refused() -> None:
    from datetime import date

    from langgraph.types import Interrupt

    from agentspan.frameworks.langgraph_codec import UnencodableState, decode, encode

    value = {
        "messages": [AIMessage(content="hi", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}])],
        "tasks": [Send("square", {"n": 2})],
        "pair": (1, "a"),
        "by_number": {1: "one"},
        "$odd": True,
        "waiting": Interrupt(value={"q": "ok?"}, id="i1"),
    }
    back = decode(json.loads(json.dumps(encode(value))))
    assert back["messages"][0].tool_calls[0]["args"] == {"x": 1} and back["messages"][0].text == "hi"
    assert back["tasks"] == [Send("square", {"n": 2})]
    assert back["pair"] == (1, "a") and back["by_number"] == {1: "one"} and back["$odd"] is True
    assert back["waiting"].value == {"q": "ok?"} and back["waiting"].id == "i1"
    with pytest.raises(UnencodableState, match=r"state.when: a datetime.date has no JSON form"):
        encode({"when": date(2026, 1, 1)})


def test_the_recursion_limit_counts_the_whole_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    class Counter(TypedDict):
        n: int

    def tick(state: Counter) -> dict[str, Any]:
        RAN.append("tick")
        return {"n": state["n"] + 1}

    builder = StateGraph(Counter)
    builder.add_node("tick", tick)
    builder.add_edge(START, "tick")
    builder.add_edge("tick", "tick")  # never stops on its own
    looping = builder.compile(name="looping").with_config(recursion_limit=4)
    result = runtime.run(looping, json.dumps({"n": 0}))
    assert result.status == "FAILED"
    assert result.error is not None and "recursion limit of 4 supersteps" in result.error
    assert len(RAN) == 4


@pytest.mark.anyio
async def test_a_checkpoint_over_the_bound_is_refused_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentspan._core.errors import TerminalToolError
    from agentspan.frameworks import langgraph_graph

    class Blob(TypedDict):
        text: str

    builder = StateGraph(Blob)
    builder.add_node("grow", lambda state: {"text": state["text"] * 1000})
    builder.add_edge(START, "grow")
    graph = builder.compile(name="blob")
    monkeypatch.setattr(langgraph_graph, "MAX_CHECKPOINT_BYTES", 5000)
    with pytest.raises(TerminalToolError, match=r"checkpoint is \d+ bytes as JSON, over the 5000"):
        await langgraph_graph.run_superstep(
            graph, "t1", {"checkpoint": None, "input": json.dumps({"text": "abcdefgh"})}
        )


def test_an_interrupt_inside_a_subgraph_resumes_the_subgraph_where_it_stopped(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    class Notes(TypedDict):
        notes: Annotated[list[str], operator.add]

    def prepare(state: Notes) -> dict[str, Any]:
        RAN.append("prepare")
        return {"notes": ["prepared"]}

    def confirm(state: Notes) -> dict[str, Any]:
        RAN.append("confirm")
        return {"notes": [f"confirmed={interrupt('Go ahead?')}"]}

    inner = StateGraph(Notes)
    inner.add_node("prepare", prepare)
    inner.add_node("confirm", confirm)
    inner.add_edge(START, "prepare")
    inner.add_edge("prepare", "confirm")
    outer = StateGraph(Notes)
    outer.add_node("checkout", inner.compile())
    outer.add_node("receipt", lambda state: {"notes": ["receipt"]})
    outer.add_edge(START, "checkout")
    outer.add_edge("checkout", "receipt")
    handle = runtime.start(outer.compile(name="shop"), json.dumps({"notes": []}))
    _wait_until_waiting(runtime, handle.execution_id)
    pending = runtime.get_status(handle.execution_id).pending_tool
    assert pending is not None and pending["parameters"]["question"] == "Go ahead?"
    handle.send("yes")
    result = handle.join(timeout=30)
    assert result.output == {"notes": ["prepared", "confirmed=yes", "receipt"]}
    # The subgraph's own checkpoint was recorded with the interrupt: prepare did not run again.
    assert RAN == ["prepare", "confirm", "confirm"]


def test_interrupts_of_parallel_branches_are_answered_each_by_id(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    def spread(state: Batch) -> list[Send]:
        return [Send("ask", {"items": [n], "results": []}) for n in state["items"]]

    def ask(state: Batch) -> dict[str, Any]:
        n = state["items"][0]
        return {"results": [n * 10 if interrupt(f"keep {n}?") == "keep" else 0]}

    builder = StateGraph(Batch)
    builder.add_node("plan", lambda state: {})
    builder.add_node("ask", ask)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", spread, ["ask"])
    handle = runtime.start(builder.compile(name="keeper"), json.dumps({"items": [1, 2], "results": []}))
    _wait_until_waiting(runtime, handle.execution_id)
    pending = runtime.get_status(handle.execution_id).pending_tool
    assert pending is not None
    asked = {i["value"]: i["id"] for i in pending["parameters"]["interrupts"]}
    assert set(asked) == {"keep 1?", "keep 2?"}
    handle.respond({"resume": {asked["keep 1?"]: "keep", asked["keep 2?"]: "drop"}})
    result = handle.join(timeout=30)
    assert result.status == "COMPLETED", result.error
    assert sorted(result.output["results"]) == [0, 10]


def test_the_run_context_is_the_graphs_runtime_context(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    from dataclasses import dataclass

    from langgraph.runtime import Runtime

    @dataclass
    class Caller:
        user: str

    def greet(state: MessagesState, runtime: Runtime[Caller]) -> dict[str, Any]:
        return {"messages": [AIMessage(content=f"Hello {runtime.context.user}")]}

    builder = StateGraph(MessagesState, context_schema=Caller)
    builder.add_node("greet", greet)
    builder.add_edge(START, "greet")
    result = runtime.run(builder.compile(name="greeter"), "hi", context={"user": "ada"})
    assert result.status == "COMPLETED", result.error
    assert result.output == "Hello ada"


@pytest.mark.anyio
async def test_a_large_node_update_is_shown_as_a_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentspan.frameworks import langgraph_graph

    class Blob(TypedDict):
        text: str

    builder = StateGraph(Blob)
    builder.add_node("grow", lambda state: {"text": state["text"] * 100})
    builder.add_edge(START, "grow")
    monkeypatch.setattr(langgraph_graph, "MAX_SHOWN_UPDATE_BYTES", 500)
    answer = await langgraph_graph.run_superstep(
        builder.compile(name="blob"), "t2", {"checkpoint": None, "input": json.dumps({"text": "abcdefgh"})}
    )
    (node,) = answer["nodes"]
    assert node["update"]["truncated"] is True and node["update"]["bytes"] > 800
    assert answer["done"] and answer["output"] == {"text": "abcdefgh" * 100}  # the state keeps it all


def test_a_node_returning_command_goto_picks_the_next_node(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    from typing import Literal

    from langgraph.types import Command

    def triage(state: MessagesState) -> Command[Literal["urgent", "later"]]:
        target: Literal["urgent", "later"] = "urgent" if "now" in state["messages"][-1].text else "later"
        return Command(goto=target, update={"messages": [AIMessage(content=f"to {target}")]})

    builder = StateGraph(MessagesState)
    builder.add_node("triage", triage)
    builder.add_node("urgent", lambda state: {"messages": [AIMessage(content="On it.")]})
    builder.add_node("later", lambda state: {"messages": [AIMessage(content="Queued.")]})
    builder.add_edge(START, "triage")
    result = runtime.run(builder.compile(name="triage"), "Fix it now")
    assert result.output == "On it."
    assert [c["name"] for c in result.tool_calls] == ["triage", "urgent"]
