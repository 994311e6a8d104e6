"""A LangGraph graph run as a durable graph, one superstep per durable step.

The graph's nodes are the user's code and run in the user's process: the engine asks for
one superstep at a time as a worker task (``<graph>_superstep``, a decision function with
purpose ``graph``) given the checkpoint recorded after the previous one; the worker runs
exactly that superstep with LangGraph's own machinery and answers with the new checkpoint,
the nodes that ran and what they wrote, any ``interrupt()``, and the model calls made
inside the nodes. That answer is recorded in one step: the checkpoint in the state
(``ExecState.graph``), a ``tool_call``/``tool_result`` pair per node, an ``llm_call`` per
model call. A worker lost mid-superstep (its lease expired) gets the same task again,
same call id, same checkpoint: completed supersteps never run again.

An ``interrupt()`` becomes a ``human`` wait (``pendingTool.kind`` ``human``, the
interrupt's value in ``parameters.interrupt``); the answer from any process (``respond``,
``approve``, ``send``) is recorded once (``human_input``) and the next superstep resumes
the graph with it (``Command(resume=…)``). The SDK side is ``frameworks/langgraph_graph.py``.
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.functions import call_fn
from agentspan.server.engine.model import (
    CallState,
    ChildFinished,
    EventDraft,
    GraphRun,
    HumanAnswered,
    LlmResult,
    PendingFn,
    Rejected,
    Start,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.steps import Step, finish, record_usage
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.waits import pending_tool, wait_text

AGENT_TYPE = "langgraph_graph"
TASK_KEY = "_graph_task"
"""The spec's metadata names the superstep worker task under this key."""

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The value interrupt() returns in the graph: the whole object, or the "
    "value of 'resume' or of 'message' when it is the only field",
    "properties": {
        "resume": {"description": "The value interrupt() returns"},
        "message": {"type": "string", "description": "A text answer"},
        "approved": {"type": "boolean"},
    },
}
"""What a person answers an ``interrupt()`` with, unless the interrupt declares a schema."""


def is_graph(spec: AgentConfig) -> bool:
    return not spec.agents and (spec.metadata or {}).get("_agent_type") == AGENT_TYPE


def graph_task(spec: AgentConfig) -> str:
    return str((spec.metadata or {}).get(TASK_KEY) or f"{spec.name}_superstep")


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    d.state.graph = GraphRun(task=graph_task(spec))
    _next_superstep(d)


def _next_superstep(d: Step) -> None:
    """Ask for the next superstep, or hold it while the execution is paused."""
    s = d.state
    graph = _graph(d)
    if s.paused:
        graph.due = True
        s.llm_due = True
        return
    graph.due = False
    args: dict[str, Any] = {"checkpoint": graph.checkpoint, "step": graph.supersteps}
    if graph.checkpoint is None:
        args["input"] = s.prompt
    if graph.resume is not None or graph.interrupts:
        args["resume"] = graph.resume
        args["interrupts"] = [i.get("id") for i in graph.interrupts]
        graph.resume = None
        graph.interrupts = []
    call_fn(d, "graph", graph.task, args)


def _graph(d: Step) -> GraphRun:
    graph = d.state.graph
    if graph is None:
        raise Rejected("invalid_state", "the execution is not a graph run")
    return graph


def on_superstep(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    """Record a superstep's outcome, then wait, finish, or ask for the next one."""
    graph = _graph(d)
    if isinstance(inp, ToolFailed):
        finish(
            d,
            "FAILED",
            error=f"graph superstep {graph.supersteps + 1} failed: {inp.error}",
            finish_reason="error",
        )
        return
    out = inp.output if isinstance(inp.output, dict) else {}
    checkpoint = out.get("checkpoint")
    if not isinstance(checkpoint, dict):
        finish(d, "FAILED", error=f"{graph.task} answered without a checkpoint", finish_reason="error")
        return
    graph.checkpoint = checkpoint
    graph.supersteps += 1
    _record_nodes(d, graph.supersteps, out.get("nodes"))
    _record_model_calls(d, out.get("llm_calls"))
    interrupts = [i for i in out.get("interrupts") or () if isinstance(i, dict)]
    if interrupts:
        _wait_for_person(spec, d, graph, interrupts)
    elif out.get("done"):
        finish(d, "COMPLETED", output=out.get("output"), finish_reason="stop")
    elif d.state.stop_requested:
        finish(d, "COMPLETED", output=out.get("output"), finish_reason="stopped")
    else:
        _next_superstep(d)


def _record_nodes(d: Step, superstep: int, nodes: Any) -> None:
    """A ``tool_call``/``tool_result`` pair per node that ran, so history, the CLI and the
    UI show a graph's nodes the way they show tools."""
    for index, node in enumerate(nodes if isinstance(nodes, list) else ()):
        if not isinstance(node, dict):
            continue
        name = str(node.get("node") or "node")
        call_id = f"graph.{superstep}.{index + 1}"
        d.events.append(
            EventDraft("tool_call", {"tool_name": name, "args": {"superstep": superstep}, "call_id": call_id})
        )
        d.events.append(
            EventDraft("tool_result", {"tool_name": name, "result": node.get("update"), "call_id": call_id})
        )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _record_model_calls(d: Step, calls: Any) -> None:
    """The model calls made inside the nodes (in the worker): tokens into the execution's
    usage, an ``llm_call`` event each (``purpose`` ``graph_node``; no price is known here)."""
    for call in calls if isinstance(calls, list) else ():
        if not isinstance(call, dict):
            continue
        latency = call.get("latency_ms")
        reply = LlmResult(
            model=str(call.get("model") or "unknown"),
            prompt_tokens=_int(call.get("prompt_tokens")),
            completion_tokens=_int(call.get("completion_tokens")),
            cached_tokens=_int(call.get("cached_tokens")),
            reasoning_tokens=_int(call.get("reasoning_tokens")),
            latency_ms=float(latency) if isinstance(latency, int | float) else 0.0,
            finish_reason=call.get("finish_reason") if isinstance(call.get("finish_reason"), str) else None,
        )
        record_usage(d, reply, purpose="graph_node")


def _wait_for_person(spec: AgentConfig, d: Step, graph: GraphRun, interrupts: list[dict[str, Any]]) -> None:
    s = d.state
    graph.interrupts = [{"id": i.get("id"), "value": i.get("value")} for i in interrupts]
    first = interrupts[0]
    value = first.get("value")
    question = value if isinstance(value, str) else value.get("question") if isinstance(value, dict) else None
    call_id = f"graph.interrupt.{graph.supersteps}"
    args: dict[str, Any] = {"interrupt": value, "node": first.get("node")}
    if isinstance(question, str):
        args["question"] = question
    if len(interrupts) > 1:
        args["interrupts"] = graph.interrupts
    schema = first.get("response_schema")
    call = CallState(
        call_id=call_id,
        name=str(first.get("node") or f"{spec.name}_interrupt"),
        args=args,
        status="awaiting_approval",
        wait_kind="human",
        response_schema=schema if isinstance(schema, dict) else ANSWER_SCHEMA,
    )
    s.calls[call_id] = call
    s.call_order.append(call_id)
    d.events.append(
        EventDraft(
            "waiting",
            {
                "tool_name": call.name,
                "call_id": call_id,
                "content": wait_text(call),
                "pending_tool": pending_tool(call),
            },
        )
    )


def on_answer(spec: AgentConfig, d: Step, inp: HumanAnswered) -> None:
    """A person answered the graph's ``interrupt()``: record it once, resume the graph."""
    graph = _graph(d)
    waiting = [c for c in d.state.awaiting_approval() if c.wait_kind == "human"]
    if inp.call_id is not None:
        waiting = [c for c in waiting if c.call_id == inp.call_id]
    if not waiting or not graph.interrupts:
        raise Rejected("not_waiting", "the graph is not waiting for an answer")
    call = waiting[0]
    call.status = "done"
    call.approval = {"decidedBy": inp.decided_by, "decidedAt": inp.decided_at}
    call.response_schema = None
    call.wait_kind = None
    answer: Any = inp.answer
    if len(answer) == 1 and ("resume" in answer or "message" in answer):
        answer = next(iter(answer.values()))
    call.result = answer
    d.events.append(
        EventDraft(
            "human_input",
            {
                "tool_name": call.name,
                "call_id": call.call_id,
                "result": inp.answer,
                "data": {"decidedBy": inp.decided_by, "decidedAt": inp.decided_at},
            },
        )
    )
    graph.resume = answer
    if d.state.stop_requested:
        finish(d, "COMPLETED", output=None, finish_reason="stopped")
        return
    _next_superstep(d)


def _no_children(spec: AgentConfig, d: Step, inp: ChildFinished) -> None:
    """A graph starts no child executions; a late notice of one has nothing to act on."""


def _resume(spec: AgentConfig, d: Step) -> None:
    d.state.llm_due = False
    if d.state.graph is not None and d.state.graph.due:
        _next_superstep(d)


def _stop(spec: AgentConfig, d: Step) -> None:
    """Stop after the superstep in flight (its outcome is recorded), or at once when none is."""
    if d.state.pending:
        d.state.stop_requested = True
        return
    finish(d, "COMPLETED", output=None, finish_reason="stopped")


STRATEGY = Strategy(
    name=AGENT_TYPE,
    start=start,
    child_finished=_no_children,
    resume=_resume,
    stop=_stop,
    fn_results={"graph": on_superstep},
    inputs={HumanAnswered: on_answer},
)
