"""``swarm``: the active agent works with ``transfer_to_<peer>`` tools; a transfer or a
handoff condition passes control; the first answer without a transfer ends the run.

A parent with a model of its own takes part as the first member (the reference's member
"0"): its instructions, model and tools answer the request first, and it can be
transferred back to. A parent without a model only hosts the team; its first sub-agent
starts."""

from __future__ import annotations

from agentspan.protocol.spec import (
    AgentConfig,
    HandoffSettings,
    HandoffTool,
    OnConditionSpec,
    OnToolResultSpec,
)
from agentspan.server.engine.conditions import text_handoff
from agentspan.server.engine.functions import call_fn, fn_answer
from agentspan.server.engine.model import ChildFinished, PendingFn, Start, ToolFailed, ToolSucceeded
from agentspan.server.engine.steps import Step, blocked_transition, finish, handoff_prompt
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.strategies.members import (
    begin_team,
    member,
    nothing_held,
    on_member_finished,
    parent_as_member,
    record_turn,
    run_member,
    stop_team,
    transcript_messages,
)


def _parent_takes_part(spec: AgentConfig) -> bool:
    return bool(spec.model)


def _peers(spec: AgentConfig) -> list[AgentConfig]:
    """The members in order: the parent first when it takes part, then the sub-agents."""
    return [parent_as_member(spec), *spec.agents] if _parent_takes_part(spec) else list(spec.agents)


def _member(spec: AgentConfig, name: str) -> AgentConfig:
    if name == spec.name and _parent_takes_part(spec):
        return parent_as_member(spec)
    return member(spec, name)


def _member_spec(spec: AgentConfig, name: str) -> AgentConfig:
    """A swarm member with ``transfer_to_<peer>`` tools (blocked moves stay visible, so
    the model is told why instead of the move silently vanishing), and the team's
    tool-result handoffs, which its own engine applies (``swarmHandoffs``)."""
    sub = _member(spec, name)
    tools = list(sub.tools)
    existing = {t.name for t in tools}
    for peer in _peers(spec):
        tool_name = f"transfer_to_{peer.name}"
        if peer.name == name or tool_name in existing:
            continue
        blocked = blocked_transition(spec, name, peer.name)
        tools.append(
            HandoffTool(
                name=tool_name,
                description=f"Transfer the conversation to {peer.name}"
                + (f": {peer.introduction}" if peer.introduction else "."),
                input_schema={"type": "object", "properties": {}},
                tool_type="transfer",
                config=HandoffSettings(target=peer.name, blocked=blocked is not None, blocked_reason=blocked),
            )
        )
    update: dict[str, object] = {"tools": tools}
    if spec.handoffs:
        update["swarm_handoffs"] = [h for h in spec.handoffs if isinstance(h, OnToolResultSpec)]
    return sub.model_copy(update=update)


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    begin_team(spec, d)
    first = _peers(spec)[0].name
    run_member(
        spec, d, first, handoff_prompt(d.state, _member(spec, first)), child_spec=_member_spec(spec, first)
    )


def member_finished(spec: AgentConfig, d: Step, inp: ChildFinished, name: str) -> None:
    s = d.state
    text = record_turn(d, inp, name)
    if inp.status != "COMPLETED":
        finish(d, "FAILED", error=f"'{name}' {inp.status}: {inp.error}", finish_reason="error")
        return
    if s.stop_requested:  # stopped (the member too): no transfer, no handoff checks
        finish(d, "COMPLETED", output=text, finish_reason="stopped")
        return
    target = inp.transfer_to or text_handoff(spec.handoffs, text, name)
    if target is None:
        # Kept in the state in their wire form (the state's format predates typed specs).
        s.pending_handoff_checks = [
            h.wire() for h in spec.handoffs or () if isinstance(h, OnConditionSpec) and h.target != name
        ]
        if _next_condition(d):
            return
        finish(d, "COMPLETED", output=text, finish_reason="stop")
        return
    _transfer(spec, d, target)


def _next_condition(d: Step) -> bool:
    """Ask the next ``on_condition`` handoff function, if one is left."""
    s = d.state
    if not s.pending_handoff_checks:
        return False
    check = s.pending_handoff_checks[0]
    args = {"result": s.last_text or "", "active_agent": s.active or "", "messages": transcript_messages(d)}
    call_fn(d, "handoff", str(check["taskName"]), args)
    return True


def _transfer(spec: AgentConfig, d: Step, target: str) -> None:
    s = d.state
    if s.team_turn >= spec.max_turns or s.stop_requested:
        finish(
            d,
            "COMPLETED",
            output=s.last_text,
            finish_reason="max_turns" if not s.stop_requested else "stopped",
        )
        return
    if target not in {peer.name for peer in _peers(spec)}:
        finish(d, "FAILED", error=f"handoff to unknown agent {target!r}", finish_reason="error")
        return
    prompt = handoff_prompt(d.state, _member(spec, target))
    run_member(spec, d, target, prompt, child_spec=_member_spec(spec, target))


def on_handoff(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    s = d.state
    check = s.pending_handoff_checks.pop(0) if s.pending_handoff_checks else {}
    if fn_answer(inp, "handoff", False) and check.get("target"):
        s.pending_handoff_checks = []
        _transfer(spec, d, str(check["target"]))
    elif not _next_condition(d):
        finish(d, "COMPLETED", output=s.last_text, finish_reason="stop")


STRATEGY = Strategy(
    name="swarm",
    start=start,
    child_finished=on_member_finished(member_finished),
    resume=nothing_held,
    stop=stop_team,
    fn_results={"handoff": on_handoff},
)
