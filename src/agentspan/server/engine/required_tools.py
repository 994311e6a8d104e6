"""``requiredTools``: tools the model must have called (successfully) before its answer
is accepted. An answer given too early is sent back with the names of the tools still
missing, up to ``MAX_REQUIRED_TOOL_ASKS`` times; then the run FAILS, naming them (the
reference product gives up silently and completes; a user who lists required tools
expects them to have run).
"""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import CallState, EventDraft
from agentspan.server.engine.steps import Step, add_messages, finish, next_model_call

MAX_REQUIRED_TOOL_ASKS = 3


def note_call(spec: AgentConfig, d: Step, call: CallState) -> None:
    """A call succeeded: remember it if its tool is a required one."""
    required = spec.required_tools
    if required and call.name in required and call.name not in d.state.tools_used:
        d.state.tools_used.append(call.name)


def missing_tools(spec: AgentConfig, d: Step) -> list[str]:
    return [name for name in spec.required_tools or () if name not in d.state.tools_used]


def insist(spec: AgentConfig, d: Step, missing: list[str]) -> None:
    """The model answered before calling ``missing``: ask again, or give up."""
    s = d.state
    s.required_asks += 1
    names = ", ".join(missing)
    if s.required_asks > MAX_REQUIRED_TOOL_ASKS or s.turn >= spec.max_turns:
        error = f"the agent finished without calling its required tools: {names}"
        finish(d, "FAILED", error=error, finish_reason="error")
        return
    d.events.append(
        EventDraft(
            "tools_required", {"content": names, "data": {"missing": missing, "attempt": s.required_asks}}
        )
    )
    add_messages(
        d, [{"role": "user", "content": f"Before you give your final answer, call these tools: {names}."}]
    )
    next_model_call(spec, d)
