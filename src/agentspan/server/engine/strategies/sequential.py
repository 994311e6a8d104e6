"""``sequential``: sub-agents run one after another, each on the request and the previous
one's output; a step's gate (text match, or the user's function) may stop the pipeline
early."""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig, TaskRef, TextGateSpec
from agentspan.server.engine.functions import call_fn, fn_answer
from agentspan.server.engine.model import (
    ChildFinished,
    EventDraft,
    PendingFn,
    Start,
    StartChild,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.steps import Step, finish, output_text
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.strategies.handoff import MODEL_LOOP_INPUTS


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    _start_step(spec, d, 0, inp.prompt)


def step_prompt(request: str, previous: str) -> str:
    """A later step's prompt: the pipeline's request, so no step loses what the user asked,
    and the previous step's output (the reference's wording, which users' prompts expect)."""
    return f"{request}\n\nPrevious agent output:\n{previous}"


def _start_step(spec: AgentConfig, d: Step, step: int, prompt: str) -> None:
    s = d.state
    child = spec.agents[step]
    s.step = step
    s.step_child = None
    d.commands.append(StartChild(spec=child, prompt=prompt, link=f"step:{step}"))
    d.events.append(EventDraft("handoff", {"target": child.name}))


def child_finished(spec: AgentConfig, d: Step, inp: ChildFinished) -> None:
    s = d.state
    if s.step_child != inp.child_id:
        return
    s.step_child = None
    s.sub_results[inp.agent_name] = inp.output
    if inp.finish_reason == "budget_exceeded":
        # The pipeline's answer so far: this step's, unless it was refused before it said anything.
        if inp.output not in (None, ""):
            s.output = inp.output
        d.events.append(
            EventDraft("budget_exceeded", {"content": f"the budget ran out in step '{inp.agent_name}'"})
        )
        finish(d, "COMPLETED", output=s.output, finish_reason="budget_exceeded")
        return
    if inp.status != "COMPLETED":
        finish(d, "FAILED", error=f"step '{inp.agent_name}' {inp.status}: {inp.error}", finish_reason="error")
        return
    text = output_text(inp.output)
    s.last_text = text
    s.output = inp.output
    match spec.agents[s.step].gate:
        case TaskRef(task_name=task_name):
            call_fn(d, "gate", task_name, {"result": text})
        case TextGateSpec() as gate:
            needle, hay = gate.text, text
            if gate.case_sensitive is False:
                needle, hay = needle.lower(), hay.lower()
            _after_gate(spec, d, not (needle and needle in hay))
        case None:
            _after_gate(spec, d, True)


def _after_gate(spec: AgentConfig, d: Step, proceed: bool) -> None:
    """Continue a pipeline after a step, or stop it early when the step's gate says so."""
    s = d.state
    if proceed and s.paused and s.step + 1 < len(spec.agents):
        s.llm_due = True  # the next step starts on resume
        return
    if not proceed:
        d.events.append(
            EventDraft(
                "gate_stopped",
                {"content": f"the gate after '{spec.agents[s.step].name}' stopped the pipeline"},
            )
        )
        finish(d, "COMPLETED", output=s.output, finish_reason="gate")
    elif s.step + 1 < len(spec.agents) and not s.stop_requested:
        _start_step(spec, d, s.step + 1, step_prompt(s.prompt, s.last_text or ""))
    else:
        finish(d, "COMPLETED", output=s.output, finish_reason="stopped" if s.stop_requested else "stop")


def on_gate(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    _after_gate(spec, d, fn_answer(inp, "decision", "continue") != "stop")


def resume(spec: AgentConfig, d: Step) -> None:
    d.state.llm_due = False
    _after_gate(spec, d, True)


def stop(spec: AgentConfig, d: Step) -> None:
    """Stop now when idle; otherwise once the running step ends (``_after_gate``)."""
    s = d.state
    s.stop_requested = True
    busy = s.awaiting_llm or any(c.status in ("running", "child_running") for c in s.calls.values())
    if not busy and not s.step_child:
        finish(d, "COMPLETED", output=s.last_text, finish_reason="stopped")


STRATEGY = Strategy(
    name="sequential",
    start=start,
    child_finished=child_finished,
    resume=resume,
    stop=stop,
    fn_results={"gate": on_gate},
    inputs=MODEL_LOOP_INPUTS,
)
