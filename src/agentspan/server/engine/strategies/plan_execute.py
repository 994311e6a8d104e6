"""``plan_execute``: the parent's model writes a plan (which sub-agent does what, in
order), the sub-agents carry out its steps one after another, and the parent's model
writes the final answer from their results.

Each of the three phases is a child execution, so each is a recorded step: a crash
never asks for the plan again once it was made, never repeats a finished step, and
never repeats the summary. The plan is structured output checked by the server (the
planner is asked again when it names an agent that is not on the team), and the final
answer is checked by the parent's own output guardrails and ``output_type``."""

from __future__ import annotations

import json
from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import ChildFinished, Start
from agentspan.server.engine.steps import Step, finish
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.strategies.members import (
    member,
    names,
    on_member_finished,
    parent_as_member,
    record_turn,
    run_member,
    stop_team,
)

MAX_PLAN_STEPS = 25
"""More steps than this are cut (with the team's ``max_turns`` the lower bound)."""


def plan_schema(spec: AgentConfig) -> dict[str, Any]:
    """The JSON schema a plan must match: steps naming agents of this team."""
    return {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "minItems": 1,
                "maxItems": min(spec.max_turns, MAX_PLAN_STEPS),
                "items": {
                    "type": "object",
                    "properties": {
                        "agent": {"type": "string", "enum": names(spec)},
                        "task": {"type": "string"},
                    },
                    "required": ["agent", "task"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["steps"],
        "additionalProperties": False,
    }


def planning_prompt(spec: AgentConfig, request: str) -> str:
    team = "\n".join(f"- {a.name}" + (f": {a.introduction}" if a.introduction else "") for a in spec.agents)
    return (
        f"{request}\n\n---\nMake a plan to answer the request above. These agents carry it out, "
        f"one step after another, each seeing the results of the steps before it:\n{team}\n"
        'Answer with JSON: {"steps": [{"agent": "<one of the agents>", "task": "<what it should do>"}]}.'
    )


def step_prompt(request: str, plan: list[dict[str, str]], results: list[str], index: int) -> str:
    lines = [request, "", "The plan:"]
    lines += [f"{n + 1}. [{step['agent']}] {step['task']}" for n, step in enumerate(plan)]
    if results:
        lines += ["", "Results so far:"]
        lines += [f"{n + 1}. {text}" for n, text in enumerate(results)]
    lines += ["", f"Your step ({index + 1}): {plan[index]['task']}"]
    return "\n".join(lines)


def summary_prompt(request: str, plan: list[dict[str, str]], results: list[str]) -> str:
    lines = [request, "", "The plan was carried out:"]
    for n, (step, text) in enumerate(zip(plan, results, strict=False)):
        lines += [f"{n + 1}. [{step['agent']}] {step['task']}", f"Result: {text}"]
    lines += ["", "Write the final answer to the request from these results."]
    return "\n".join(lines)


def read_plan(spec: AgentConfig, output: Any) -> list[dict[str, str]]:
    """The planner's answer as a list of steps. The server already checked it against
    ``plan_schema``; this is the last line, for an answer that reached here otherwise."""
    if isinstance(output, str):
        output = json.loads(output)
    steps = output.get("steps") if isinstance(output, dict) else None
    if not isinstance(steps, list) or not steps:
        raise ValueError("the plan has no steps")
    plan = [{"agent": str(step["agent"]), "task": str(step["task"])} for step in steps]
    unknown = sorted({step["agent"] for step in plan} - set(names(spec)))
    if unknown:
        raise ValueError(f"it names agents not on the team: {', '.join(unknown)}")
    return plan


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    planner = parent_as_member(spec, output_type={"schema": plan_schema(spec), "className": "Plan"})
    run_member(spec, d, spec.name, planning_prompt(spec, inp.prompt), child_spec=planner)


def member_finished(spec: AgentConfig, d: Step, inp: ChildFinished, name: str) -> None:
    s = d.state
    text = record_turn(d, inp, name)
    if inp.status != "COMPLETED":
        phase = "planning" if s.plan is None else f"step '{name}'" if s.step < len(s.plan) else "the summary"
        finish(d, "FAILED", error=f"{phase} {inp.status}: {inp.error}", finish_reason="error")
        return
    if s.plan is None:
        try:
            s.plan = read_plan(spec, inp.output)[: min(spec.max_turns, MAX_PLAN_STEPS)]
        except (ValueError, KeyError, TypeError) as exc:
            finish(d, "FAILED", error=f"the planner's answer is not a plan: {exc}", finish_reason="error")
            return
        s.step = 0
    else:
        s.step += 1
        if s.step > len(s.plan):  # the summary answered: it is the result
            finish(d, "COMPLETED", output=inp.output, finish_reason="stop")
            return
    if s.stop_requested:
        finish(d, "COMPLETED", output=text, finish_reason="stopped")
        return
    _next(spec, d)


def resume(spec: AgentConfig, d: Step) -> None:
    d.state.llm_due = False
    _next(spec, d)


def _next(spec: AgentConfig, d: Step) -> None:
    """Start the next step of the plan, or the summary after the last one (paused: on
    resume)."""
    s = d.state
    if s.paused:
        s.llm_due = True
        return
    plan = s.plan or []
    results = [t["text"] for t in s.transcript[1:]]  # the planner's turn comes first
    if s.step < len(plan):
        agent = plan[s.step]["agent"]
        run_member(
            spec, d, agent, step_prompt(s.prompt, plan, results, s.step), child_spec=member(spec, agent)
        )
        return
    # The final answer is the team's: its output type and output guardrails check it.
    checks = [g for g in spec.guardrails or () if (g.position or "output") == "output"]
    summariser = parent_as_member(spec, output_type=spec.output_type, guardrails=checks or None)
    run_member(spec, d, spec.name, summary_prompt(s.prompt, plan, results), child_spec=summariser)


STRATEGY = Strategy(
    name="plan_execute",
    start=start,
    child_finished=on_member_finished(member_finished),
    resume=resume,
    stop=stop_team,
)
