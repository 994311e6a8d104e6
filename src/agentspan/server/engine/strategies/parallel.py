"""``parallel``: every sub-agent at once on the request; results gathered per agent."""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import ChildFinished, EventDraft, Start
from agentspan.server.engine.steps import Step, finish, handoff_prompt, output_text
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.strategies.members import (
    begin_team,
    nothing_held,
    on_member_finished,
    run_member,
    stop_team,
)


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    begin_team(spec, d)
    for sub in spec.agents:
        run_member(spec, d, sub.name, handoff_prompt(d.state, sub))


def gathered(spec: AgentConfig, d: Step) -> str:
    """The answers of the branches that succeeded so far, in the team's order."""
    results = d.state.sub_results
    return "\n\n".join(
        f"[{a.name}]: {output_text(results[a.name])}"
        for a in spec.agents
        if a.name in results and _ok(results[a.name])
    )


def _ok(result: object) -> bool:
    return not (isinstance(result, dict) and "error" in result)


def branch_finished(spec: AgentConfig, d: Step, inp: ChildFinished, name: str) -> None:
    s = d.state
    s.sub_results[name] = (
        inp.output if inp.status == "COMPLETED" else {"error": inp.error, "status": inp.status}
    )
    if s.children:
        return  # other branches still running; one failing does not stop them
    ok = [
        a.name
        for a in spec.agents
        if not (isinstance(s.sub_results.get(a.name), dict) and "error" in s.sub_results[a.name])
    ]
    if not ok:
        finish(d, "FAILED", error="every parallel branch failed", finish_reason="error")
        return
    s.output = gathered(spec, d)
    failed = [a.name for a in spec.agents if a.name not in ok]
    if failed:
        d.events.append(EventDraft("branches_failed", {"content": ", ".join(failed)}))
    finish(d, "COMPLETED", output=s.output, finish_reason="stop")


STRATEGY = Strategy(
    name="parallel",
    start=start,
    child_finished=on_member_finished(branch_finished, answer=gathered),
    resume=nothing_held,
    stop=stop_team,
)
