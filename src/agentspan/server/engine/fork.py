"""A forked execution's first step: the origin's conversation up to one of its model
calls, then that model call made again (with the fork's own spec: edited instructions
or another model).

Nothing before the fork point runs again: the conversation arrives whole in the ``Fork``
input (tool results included), so no tool call is dispatched and no model call is made
but the one the fork starts with. Usage starts at zero: what the origin spent before the
fork point is shown as inherited (``service/forks.py``), never added to the fork's
usage or budget.
"""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import Fork, SetTimer
from agentspan.server.engine.steps import Step, add_messages, next_model_call


def on_fork(spec: AgentConfig, d: Step, inp: Fork) -> None:
    s = d.state
    s.prompt = inp.prompt
    s.seed = inp.seed
    timeout = inp.timeout_seconds if inp.timeout_seconds is not None else spec.timeout_seconds
    if timeout and timeout > 0:
        s.deadline = inp.now + timeout
        d.commands.append(SetTimer(at=s.deadline))
    s.turn = inp.turn
    s.call_counter = inp.call_counter
    add_messages(d, list(inp.messages))
    for message in reversed(inp.messages):
        if message["role"] == "assistant" and message.get("content"):
            s.last_text = str(message.get("content"))
            break
    next_model_call(spec, d)
