"""What the team strategies share: the parent runs no model loop, only its sub-agents
(members) as child executions, and keeps their turns in a transcript."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import ChildFinished, EventDraft, StartChild
from agentspan.server.engine.steps import Step, finish, handoff_prompt, output_text

MemberFinished = Callable[[AgentConfig, Step, ChildFinished, str], None]
"""Acts on a member's end: (spec, step, input, member name)."""


def begin_team(spec: AgentConfig, d: Step) -> None:
    """Introductions seed the group conversation."""
    d.state.transcript = [
        {"agent": a.name, "text": a.introduction, "kind": "introduction"}
        for a in spec.agents
        if a.introduction
    ]


def member(spec: AgentConfig, name: str) -> AgentConfig:
    return next(a for a in spec.agents if a.name == name)


def parent_as_member(spec: AgentConfig, **keep: object) -> AgentConfig:
    """The parent as a member of its own team (a swarm's first member, a planner, a
    summariser): its own model, instructions and tools. What governs the team
    (sub-agents, turns, termination, handoff rules, guardrails, memory, the answer's type)
    stays with the team's execution, unless ``keep`` gives a field back."""
    cleared: dict[str, object] = {
        "agents": [],
        "strategy": None,
        "max_turns": AgentConfig.model_fields["max_turns"].default,
        "router": None,
        "stop_when": None,
        "termination": None,
        "handoffs": None,
        "allowed_transitions": None,
        "gate": None,
        "guardrails": None,
        "memory": None,
        "output_type": None,
        "introduction": None,
    }
    return spec.model_copy(update={**cleared, **keep})


def names(spec: AgentConfig) -> list[str]:
    return [a.name for a in spec.agents]


def run_member(
    spec: AgentConfig, d: Step, name: str, prompt: str, *, child_spec: AgentConfig | None = None
) -> None:
    s = d.state
    s.active = name
    d.commands.append(StartChild(spec=child_spec or member(spec, name), prompt=prompt, link=f"team:{name}"))
    source = s.transcript[-1]["agent"] if s.transcript else spec.name
    d.events.append(EventDraft("handoff", {"target": name, "data": {"source": source}}))


def conversation(spec: AgentConfig, d: Step, name: str) -> str:
    return handoff_prompt(d.state, member(spec, name))


def record_turn(d: Step, inp: ChildFinished, name: str) -> str:
    s = d.state
    text = output_text(inp.output) if inp.status == "COMPLETED" else f"(failed: {inp.error})"
    s.transcript.append({"agent": name, "text": text})
    s.sub_results[name] = (
        inp.output if inp.status == "COMPLETED" else {"error": inp.error, "status": inp.status}
    )
    s.team_turn += 1
    if inp.status == "COMPLETED":
        s.last_text = text
    return text


def transcript_messages(d: Step) -> list[dict[str, str]]:
    """The group conversation as chat messages (what decision functions are shown)."""
    return [{"role": "assistant", "name": t["agent"], "content": t["text"]} for t in d.state.transcript]


def transcript_output(spec: AgentConfig, d: Step) -> str:
    """A group chat's answer: what the agents said in their turns (introductions only
    seed the chat)."""
    return "\n\n".join(
        f"[{t['agent']}]: {t['text']}" for t in d.state.transcript if t.get("kind") != "introduction"
    )


def last_answer(spec: AgentConfig, d: Step) -> Any:
    return d.state.last_text


def finish_team(spec: AgentConfig, d: Step, reason: str) -> None:
    finish(d, "COMPLETED", output=transcript_output(spec, d), finish_reason=reason)


def on_member_finished(
    finished: MemberFinished, *, answer: Callable[[AgentConfig, Step], Any] = last_answer
) -> Callable[[AgentConfig, Step, ChildFinished], None]:
    """A team's ``child_finished``: find which member ended, then let ``finished`` act.

    A child the team no longer waits for (cancelled, or a late duplicate) is ignored. A
    member refused by the budget (shared by the whole tree) ends the team at once, with
    ``budget_exceeded`` on the team's own log and the team's ``answer`` so far (a group
    chat's transcript, the branches gathered, or the last member's answer)."""

    def child_finished(spec: AgentConfig, d: Step, inp: ChildFinished) -> None:
        s = d.state
        name = s.children.pop(inp.child_id, None)
        if name is None:
            return
        if inp.finish_reason == "budget_exceeded":
            if inp.output not in (None, ""):  # refused before it said anything: no turn
                record_turn(d, inp, name)
            d.events.append(
                EventDraft("budget_exceeded", {"content": f"the budget ran out while '{name}' was working"})
            )
            finish(d, "COMPLETED", output=answer(spec, d), finish_reason="budget_exceeded")
            return
        finished(spec, d, inp, name)

    return child_finished


def stop_team(spec: AgentConfig, d: Step) -> None:
    """Stop now when no member and no decision function is running; otherwise the team
    ends at its next turn."""
    s = d.state
    s.stop_requested = True
    if not s.children and not s.pending:
        s.selecting, s.pending_choice = False, None
        finish_team(spec, d, "stopped")


def nothing_held(spec: AgentConfig, d: Step) -> None:
    """Resume for strategies that never hold a step back while paused."""
    d.state.llm_due = False
