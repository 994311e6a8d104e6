"""Recording a condensed conversation (the summary call itself is made by the model-call
executor, ``executors/condensing.py``, which alone sees the messages and their size).

The ``context_condensed`` input answers the model call the engine asked for: instead of
a reply it brings a summary of the older messages. This step records it (the state's
``condensed``, the summary call's usage with an ``llm_call`` event, a ``context_condensed``
event) and asks for the same model call again, which is then sent the summary in place
of what it covers. Once recorded, a crash never makes the summary call again; a crash
during it re-runs the task, like any model call.
"""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import CallLlm, ContextCondensed, EventDraft
from agentspan.server.engine.steps import Step, record_usage


def on_context_condensed(spec: AgentConfig, d: Step, inp: ContextCondensed) -> None:
    s = d.state
    before = s.condensed.upto if s.condensed is not None else 0
    if not s.awaiting_llm or inp.condensation.upto <= before or inp.condensation.upto > s.message_count:
        return  # stale (the call it answered is no longer awaited) or no progress
    record_usage(d, inp.summary_call, purpose="condense")
    s.condensed = inp.condensation.model_copy(update={"count": (s.condensed.count + 1) if s.condensed else 1})
    d.events.append(
        EventDraft(
            "context_condensed",
            {
                "content": inp.trigger,
                "data": {
                    "messagesBefore": inp.messages_before,
                    "messagesAfter": inp.messages_after,
                    "exchangesCondensed": inp.exchanges_condensed,
                    "upto": inp.condensation.upto,
                    "summaryChars": len(inp.condensation.summary),
                    "count": s.condensed.count,
                },
            },
        )
    )
    d.commands.append(CallLlm(purpose="plan" if s.planning else "turn"))
