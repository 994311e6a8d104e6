"""The model's replies in the agent loop: usage, plans, tool calls, final answers."""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.answers import accept_answer
from agentspan.server.engine.callback_points import ask_after_model
from agentspan.server.engine.conditions import TerminationContext, should_terminate
from agentspan.server.engine.guardrails import check_output, rails_at
from agentspan.server.engine.hooks import Block, Replace, Retry, consult
from agentspan.server.engine.model import CallState, EventDraft, ExecState, LlmResult
from agentspan.server.engine.required_tools import insist, missing_tools
from agentspan.server.engine.steps import (
    Step,
    add_messages,
    finish,
    next_model_call,
    record_usage,
    request_model_call,
)
from agentspan.server.engine.tool_calls import dispatch_call, maybe_finish_turn, refuse_over_limit


def on_llm_result(spec: AgentConfig, d: Step, inp: LlmResult) -> None:
    s = d.state
    if not s.awaiting_llm:
        return  # a duplicate delivery of a result already recorded
    s.awaiting_llm = False
    record_usage(d, inp)
    if not s.planning and ask_after_model(spec, d, inp):
        return  # the after_model callback answers first (callbacks.py carries on)
    act_on_reply(spec, d, inp)


def act_on_reply(spec: AgentConfig, d: Step, inp: LlmResult) -> None:
    """Act on a recorded model reply (or the reply a callback gave instead)."""
    s = d.state
    limit = inp.max_tool_calls  # a reply replaced by a hook is bounded all the same
    if d.hooks.after_model:
        checked = _checked_reply(spec, d, inp)
        if checked is None:
            return
        inp = checked
    if s.planning:
        on_plan(spec, d, inp.content or "")
        return
    s.turn += 1
    if inp.content:
        s.last_text = inp.content
    add_messages(
        d,
        [
            {
                "role": "assistant",
                "content": inp.content,
                "tool_calls": [
                    {"id": tc.id, "name": tc.name, "arguments": tc.arguments} for tc in inp.tool_calls
                ],
            }
        ],
    )
    if not inp.tool_calls:
        _on_final_answer(spec, d, inp.content or "")
        return
    reason = _termination_reason(spec, s, inp.content or "")
    if reason is not None:
        d.events.append(EventDraft("terminated", {"content": reason}))
        finish(d, "COMPLETED", output=inp.content or s.last_text, finish_reason="termination")
        return
    if inp.content:
        d.events.append(EventDraft("message", {"content": inp.content}))
    s.turn_had_rejection = False
    s.calls = {}
    s.call_order = []
    for index, tc in enumerate(inp.tool_calls):
        s.call_counter += 1
        call = CallState(call_id=f"c{s.call_counter}", name=tc.name, llm_id=tc.id or f"c{s.call_counter}")
        s.calls[call.call_id] = call
        s.call_order.append(call.call_id)
        if limit is not None and index >= limit:
            refuse_over_limit(d, call, tc.arguments, limit, len(inp.tool_calls))
        else:
            dispatch_call(spec, d, call, tc.arguments)
    maybe_finish_turn(spec, d)


def on_plan(spec: AgentConfig, d: Step, plan: str) -> None:
    """The plan becomes part of the conversation; then the agent carries it out."""
    d.state.planning = False
    d.events.append(EventDraft("plan", {"content": plan}))
    add_messages(
        d,
        [
            {"role": "assistant", "content": plan, "tool_calls": []},
            {"role": "user", "content": "Now carry out the plan."},
        ],
    )
    next_model_call(spec, d)


def _termination_reason(spec: AgentConfig, s: ExecState, text: str) -> str | None:
    condition = spec.termination
    if condition is None:
        return None
    ctx = TerminationContext(
        result=text,
        message_count=s.message_count,
        iteration=s.turn,
        prompt_tokens=s.usage.prompt_tokens,
        completion_tokens=s.usage.completion_tokens,
        total_tokens=s.usage.total_tokens,
    )
    return should_terminate(condition, ctx)


def _on_final_answer(spec: AgentConfig, d: Step, text: str) -> None:
    """An answer before every required tool was called is sent back; then the answer
    goes through the output guardrails, if the agent has any."""
    missing = missing_tools(spec, d)
    if missing:
        insist(spec, d, missing)
        return
    if rails_at(spec, "output"):
        check_output(spec, d, text)
        return
    accept_answer(spec, d, text)


def _checked_reply(spec: AgentConfig, d: Step, reply: LlmResult) -> LlmResult | None:
    """Consult the ``after_model`` hooks: the reply to act on, or ``None`` when they
    failed the run or sent the reply back (see ``hooks.Retry``)."""
    s = d.state
    verdict = consult(d.hooks.after_model, spec, s, reply)
    if isinstance(verdict, Replace):
        return LlmResult.model_validate(verdict.value)
    if isinstance(verdict, Block):
        finish(d, "FAILED", error=verdict.reason, finish_reason="blocked")
        return None
    if isinstance(verdict, Retry):
        d.events.append(EventDraft("reply_rejected", {"content": verdict.feedback}))
        add_messages(
            d,
            [
                {"role": "assistant", "content": reply.content, "tool_calls": []},
                {"role": "user", "content": verdict.feedback},
            ],
        )
        if s.planning:
            request_model_call(spec, d, "plan")
        else:
            s.turn += 1  # the rejected reply was a model call like any other
            next_model_call(spec, d)
        return None
    return reply
