"""Team strategies: the parent runs no model loop, only its sub-agents, as child executions.

* ``parallel``: every sub-agent at once on the request; results gathered per agent.
* ``router``: a router (an agent, or the user's function) picks exactly one sub-agent.
* ``round_robin`` / ``random``: sub-agents take turns on a shared transcript until
  ``max_turns``, a termination condition or ``stop_when`` says stop.
* ``swarm``: the active agent works with ``transfer_to_<peer>`` tools; a transfer or a
  handoff condition passes control; the first answer without a transfer ends the run.
* ``manual``: a human picks who speaks next (``respond({"selected": name})``).

Everything here is pure: it extends :mod:`decide` with the same Decision in, Decision out.
"""

from __future__ import annotations

import json
import random
from typing import Any

from agentspan.protocol.spec import AgentConfig, ToolConfig
from agentspan.server.engine import loop as core
from agentspan.server.engine.conditions import TerminationContext, should_terminate, text_handoff
from agentspan.server.engine.functions import call_fn, fn_answer, retry_fn
from agentspan.server.engine.model import (
    ChildFinished,
    Decision,
    EventDraft,
    Input,
    Rejected,
    Resume,
    Selection,
    SetTimer,
    Start,
    StartChild,
    Stop,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.specs import extra

_SHARED = (
    "cancel",
    "pause",
    "timed_out",
    "worker_missing",
    "worker_found",
    "budget_exceeded",
    "llm_failed",
)


def handle(spec: AgentConfig, d: Decision, inp: Input) -> None:
    s = d.state
    match inp:
        case Start():
            s.prompt = inp.prompt
            s.seed = inp.seed
            timeout = inp.timeout_seconds if inp.timeout_seconds is not None else spec.timeout_seconds
            if timeout and timeout > 0:
                s.deadline = inp.now + timeout
                d.commands.append(SetTimer(at=s.deadline))
            s.transcript = [
                {"agent": a.name, "text": a.introduction, "kind": "introduction"}
                for a in spec.agents
                if a.introduction
            ]
            _STARTS[str(spec.strategy)](spec, d)
        case ChildFinished():
            name = s.children.pop(inp.child_id, None)
            if name is not None and inp.finish_reason == "budget_exceeded":
                _record_turn(d, inp, name)  # the shared budget is spent: the team stops too
                core._finish(d, "COMPLETED", output=s.last_text, finish_reason="budget_exceeded")
            elif name is not None:
                _FINISHED[str(spec.strategy)](spec, d, inp, name)
        case ToolSucceeded() | ToolFailed() if inp.call_id == s.pending_fn:
            _on_fn_result(spec, d, inp)
        case Selection():
            _on_selection(spec, d, inp)
        case Resume():
            if not s.paused:
                raise Rejected("invalid_state", "the execution is not paused")
            s.paused, s.status = False, "RUNNING"
            d.events.append(EventDraft("resumed", {}))
            if s.llm_due:  # a turn was held back while paused
                s.llm_due = False
                _next_turn(spec, d)
        case Stop():
            s.stop_requested = True
            if not s.children and s.pending_fn is None:
                s.selecting, s.pending_choice = False, None
                _finish_team(spec, d, "stopped")
        case _ if inp.kind in _SHARED:
            core._HANDLERS[type(inp)](spec, d, inp)
        case _:
            raise Rejected("invalid_state", f"a {spec.strategy} team does not take '{inp.kind}' input")


# --- helpers ----------------------------------------------------------------------------


def _sub(spec: AgentConfig, name: str) -> AgentConfig:
    return next(a for a in spec.agents if a.name == name)


def _run(
    spec: AgentConfig, d: Decision, name: str, prompt: str, *, child_spec: dict[str, Any] | None = None
) -> None:
    s = d.state
    s.active = name
    d.commands.append(
        StartChild(spec=child_spec or _sub(spec, name).wire(), prompt=prompt, link=f"team:{name}")
    )
    source = s.transcript[-1]["agent"] if s.transcript else spec.name
    d.events.append(EventDraft("handoff", {"target": name, "data": {"source": source}}))


def _conversation(spec: AgentConfig, d: Decision, name: str) -> str:
    return core.handoff_prompt(d.state, _sub(spec, name))


def _text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, default=str)


def _record_turn(d: Decision, inp: ChildFinished, name: str) -> str:
    s = d.state
    text = _text(inp.output) if inp.status == "COMPLETED" else f"(failed: {inp.error})"
    s.transcript.append({"agent": name, "text": text})
    s.sub_results[name] = (
        inp.output if inp.status == "COMPLETED" else {"error": inp.error, "status": inp.status}
    )
    s.team_turn += 1
    if inp.status == "COMPLETED":
        s.last_text = text
    return text


def _finish_team(spec: AgentConfig, d: Decision, reason: str) -> None:
    s = d.state
    # The answer is what the agents said in their turns (introductions only seed the chat).
    output = "\n\n".join(
        f"[{t['agent']}]: {t['text']}" for t in s.transcript if t.get("kind") != "introduction"
    )
    core._finish(d, "COMPLETED", output=output, finish_reason=reason)


# --- parallel ---------------------------------------------------------------------------


def _start_parallel(spec: AgentConfig, d: Decision) -> None:
    for sub in spec.agents:
        _run(spec, d, sub.name, core.handoff_prompt(d.state, sub))


def _parallel_finished(spec: AgentConfig, d: Decision, inp: ChildFinished, name: str) -> None:
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
        core._finish(d, "FAILED", error="every parallel branch failed", finish_reason="error")
        return
    s.output = "\n\n".join(f"[{a.name}]: {_text(s.sub_results[a.name])}" for a in spec.agents if a.name in ok)
    failed = [a.name for a in spec.agents if a.name not in ok]
    if failed:
        d.events.append(EventDraft("branches_failed", {"content": ", ".join(failed)}))
    core._finish(d, "COMPLETED", output=s.output, finish_reason="stop")


# --- router -----------------------------------------------------------------------------


def _start_router(spec: AgentConfig, d: Decision) -> None:
    router = extra(spec, "router")
    names = [a.name for a in spec.agents]
    if isinstance(router, dict) and router.get("taskName"):
        call_fn(d, "router", str(router["taskName"]), {"prompt": d.state.prompt, "agents": names})
        return
    if not isinstance(router, dict) or not router.get("name"):
        core._finish(
            d, "FAILED", error="a router team needs router= (an agent or a function)", finish_reason="error"
        )
        return
    lines = "\n".join(
        f"- {a.name}: {a.introduction or (a.instructions if isinstance(a.instructions, str) else '') or 'no description'}"
        for a in spec.agents
    )
    chooser = dict(router)
    chooser["instructions"] = (
        f"{router.get('instructions') or ''}\n\nChoose the one agent best suited to the request. "
        f"Agents:\n{lines}\nAnswer with the agent's name only."
    ).strip()
    chooser["agents"], chooser["strategy"] = [], None
    d.state.active = str(router["name"])
    d.commands.append(StartChild(spec=chooser, prompt=d.state.prompt, link=f"team:{router['name']}"))


def _pick(names: list[str], answer: str) -> str | None:
    cleaned = answer.strip().strip("`'\".").strip()
    for name in names:
        if cleaned.lower() == name.lower():
            return name
    found = [n for n in names if n.lower() in answer.lower()]
    return max(found, key=len) if found else None


def _router_chose(spec: AgentConfig, d: Decision, answer: str) -> None:
    names = [a.name for a in spec.agents]
    choice = _pick(names, answer)
    if choice is None:
        core._finish(
            d,
            "FAILED",
            error=f"the router answered {answer[:200]!r}, which names none of: {', '.join(names)}",
            finish_reason="error",
        )
        return
    _run(spec, d, choice, _conversation(spec, d, choice))


def _router_finished(spec: AgentConfig, d: Decision, inp: ChildFinished, name: str) -> None:
    s = d.state
    router = extra(spec, "router") or {}
    if isinstance(router, dict) and name == router.get("name") and name not in [a.name for a in spec.agents]:
        if inp.status != "COMPLETED":
            core._finish(d, "FAILED", error=f"the router failed: {inp.error}", finish_reason="error")
            return
        _router_chose(spec, d, _text(inp.output))
        return
    s.sub_results[name] = inp.output
    if inp.status == "COMPLETED":
        core._finish(d, "COMPLETED", output=inp.output, finish_reason="stop")
    else:
        core._finish(d, "FAILED", error=f"'{name}' {inp.status}: {inp.error}", finish_reason="error")


# --- round robin and random -------------------------------------------------------------


def _allowed_next(spec: AgentConfig, last: str | None) -> list[str]:
    names = [a.name for a in spec.agents]
    transitions = extra(spec, "allowedTransitions")
    if last is None or not isinstance(transitions, dict) or last not in transitions:
        return names
    allowed = [n for n in names if n in (transitions.get(last) or [])]
    return allowed or names


def _next_turn(spec: AgentConfig, d: Decision) -> None:
    s = d.state
    if s.paused:
        s.llm_due = True  # resumed later
        return
    if s.stop_requested:
        _finish_team(spec, d, "stopped")
        return
    if s.team_turn >= spec.max_turns:
        _finish_team(spec, d, "max_turns")
        return
    last = s.transcript[-1]["agent"] if s.transcript else None
    choices = _allowed_next(spec, last if last in [a.name for a in spec.agents] else None)
    if spec.strategy == "random":
        name = choices[random.Random(s.seed * 1_000_003 + s.team_turn).randrange(len(choices))]
    else:
        names = [a.name for a in spec.agents]
        name = names[s.team_turn % len(names)]
        if name not in choices:
            name = choices[0]
    _run(spec, d, name, _conversation(spec, d, name))


def _turn_finished(spec: AgentConfig, d: Decision, inp: ChildFinished, name: str) -> None:
    s = d.state
    text = _record_turn(d, inp, name)
    ctx = TerminationContext(
        result=text,
        message_count=len(s.transcript),
        iteration=s.team_turn,
        prompt_tokens=s.usage.prompt_tokens,
        completion_tokens=s.usage.completion_tokens,
        total_tokens=s.usage.total_tokens,
    )
    reason = should_terminate(extra(spec, "termination"), ctx)
    if reason is not None:
        d.events.append(EventDraft("terminated", {"content": reason}))
        _finish_team(spec, d, "termination")
        return
    stop_when = extra(spec, "stopWhen")
    if isinstance(stop_when, dict) and stop_when.get("taskName"):
        messages = [{"role": "assistant", "name": t["agent"], "content": t["text"]} for t in s.transcript]
        args = {
            "result": text,
            "messages": messages,
            "iteration": s.team_turn,
            "token_usage": s.usage.model_dump(),
        }
        call_fn(d, "stop_when", str(stop_when["taskName"]), args)
        return
    _next_turn(spec, d)


# --- swarm ------------------------------------------------------------------------------


def _member_spec(spec: AgentConfig, name: str) -> dict[str, Any]:
    """A swarm member with ``transfer_to_<peer>`` tools (blocked moves stay visible, so
    the model is told why instead of the move silently vanishing)."""
    member = _sub(spec, name).model_copy(deep=True)
    existing = {t.name for t in member.tools}
    for peer in spec.agents:
        tool_name = f"transfer_to_{peer.name}"
        if peer.name == name or tool_name in existing:
            continue
        blocked = core._blocked(spec, name, peer.name)
        member.tools.append(
            ToolConfig(
                name=tool_name,
                description=f"Transfer the conversation to {peer.name}"
                + (f": {peer.introduction}" if peer.introduction else "."),
                input_schema={"type": "object", "properties": {}},
                tool_type="transfer",
                config={"target": peer.name, "blocked": blocked is not None, "blockedReason": blocked},
            )
        )
    wire = member.wire()
    handoffs = extra(spec, "handoffs")
    if handoffs:
        wire["swarmHandoffs"] = [
            h for h in handoffs if isinstance(h, dict) and h.get("type") == "on_tool_result"
        ]
    return wire


def _start_swarm(spec: AgentConfig, d: Decision) -> None:
    first = spec.agents[0].name
    _run(spec, d, first, _conversation(spec, d, first), child_spec=_member_spec(spec, first))


def _swarm_finished(spec: AgentConfig, d: Decision, inp: ChildFinished, name: str) -> None:
    s = d.state
    text = _record_turn(d, inp, name)
    if inp.status != "COMPLETED":
        core._finish(d, "FAILED", error=f"'{name}' {inp.status}: {inp.error}", finish_reason="error")
        return
    target = inp.transfer_to or text_handoff(extra(spec, "handoffs"), text, name)
    if target is None:
        conditions = [
            h
            for h in extra(spec, "handoffs") or []
            if isinstance(h, dict) and h.get("type") == "on_condition"
        ]
        s.pending_handoff_checks = [h for h in conditions if h.get("target") != name and h.get("taskName")]
        if _next_condition(spec, d):
            return
        core._finish(d, "COMPLETED", output=text, finish_reason="stop")
        return
    _transfer(spec, d, name, target)


def _next_condition(spec: AgentConfig, d: Decision) -> bool:
    s = d.state
    if not s.pending_handoff_checks:
        return False
    check = s.pending_handoff_checks[0]
    messages = [{"role": "assistant", "name": t["agent"], "content": t["text"]} for t in s.transcript]
    args = {"result": s.last_text or "", "active_agent": s.active or "", "messages": messages}
    call_fn(d, "handoff", str(check["taskName"]), args)
    return True


def _transfer(spec: AgentConfig, d: Decision, source: str, target: str) -> None:
    s = d.state
    if s.team_turn >= spec.max_turns or s.stop_requested:
        core._finish(
            d,
            "COMPLETED",
            output=s.last_text,
            finish_reason="max_turns" if not s.stop_requested else "stopped",
        )
        return
    if target not in [a.name for a in spec.agents]:
        core._finish(d, "FAILED", error=f"handoff to unknown agent {target!r}", finish_reason="error")
        return
    _run(spec, d, target, _conversation(spec, d, target), child_spec=_member_spec(spec, target))


# --- manual -----------------------------------------------------------------------------


def _await_selection(spec: AgentConfig, d: Decision) -> None:
    s = d.state
    if s.team_turn >= spec.max_turns:
        _finish_team(spec, d, "max_turns")
        return
    s.selecting = True
    s.pending_choice = selection_pending(spec)
    names = [a.name for a in spec.agents]
    d.events.append(
        EventDraft(
            "waiting",
            {
                "content": f"choose the next agent: {', '.join(names)}",
                "pending_tool": selection_pending(spec),
            },
        )
    )


def selection_pending(spec: AgentConfig) -> dict[str, Any]:
    names = [a.name for a in spec.agents]
    return {
        "taskRefName": "select_agent",
        "tool_name": "select_agent",
        "parameters": {"options": names},
        "kind": "selection",
        "response_schema": {
            "type": "object",
            "properties": {"selected": {"type": ["string", "null"], "enum": [*names, None]}},
            "required": ["selected"],
        },
    }


def _on_selection(spec: AgentConfig, d: Decision, inp: Selection) -> None:
    s = d.state
    if spec.strategy != "manual" or not s.selecting:
        raise Rejected("not_waiting", "the execution is not waiting for an agent to be chosen")
    s.selecting = False
    s.pending_choice = None
    d.events.append(EventDraft("selection", {"target": inp.selected, "data": {"decidedBy": inp.decided_by}}))
    if inp.selected is None:
        _finish_team(spec, d, "stop")
        return
    names = [a.name for a in spec.agents]
    choice = inp.selected if inp.selected in names else None
    if choice is None and inp.selected.isdigit() and int(inp.selected) < len(names):
        choice = names[int(inp.selected)]
    if choice is None:
        raise Rejected("invalid_state", f"unknown agent {inp.selected!r}; choose one of: {', '.join(names)}")
    _run(spec, d, choice, _conversation(spec, d, choice))


def _manual_finished(spec: AgentConfig, d: Decision, inp: ChildFinished, name: str) -> None:
    _record_turn(d, inp, name)
    if d.state.stop_requested:
        _finish_team(spec, d, "stopped")
        return
    _await_selection(spec, d)


def _start_manual(spec: AgentConfig, d: Decision) -> None:
    _await_selection(spec, d)


# --- local decision functions -----------------------------------------------------------


def _on_fn_result(spec: AgentConfig, d: Decision, inp: ToolSucceeded | ToolFailed) -> None:
    s = d.state
    if retry_fn(d, inp):
        return
    purpose = (s.pending_fn or "").split(".")[1]
    s.pending_fn = None
    s.pending_fn_call = None
    if isinstance(inp, ToolFailed):
        d.events.append(EventDraft("error_ignored", {"content": f"{purpose} function failed: {inp.error}"}))
    if purpose == "router":
        _router_chose(spec, d, str(fn_answer(inp, "selected_agent", "")))
    elif purpose == "stop_when":
        if fn_answer(inp, "should_stop", False):
            d.events.append(EventDraft("terminated", {"content": "stop_when returned true"}))
            _finish_team(spec, d, "stop_when")
        else:
            _next_turn(spec, d)
    elif purpose == "handoff":
        check = s.pending_handoff_checks.pop(0) if s.pending_handoff_checks else {}
        if fn_answer(inp, "handoff", False) and check.get("target"):
            s.pending_handoff_checks = []
            _transfer(spec, d, s.active or "", str(check["target"]))
        elif not _next_condition(spec, d):
            core._finish(d, "COMPLETED", output=s.last_text, finish_reason="stop")


_STARTS = {
    "parallel": _start_parallel,
    "router": _start_router,
    "round_robin": _next_turn,
    "random": _next_turn,
    "swarm": _start_swarm,
    "manual": _start_manual,
}
_FINISHED = {
    "parallel": _parallel_finished,
    "router": _router_finished,
    "round_robin": _turn_finished,
    "random": _turn_finished,
    "swarm": _swarm_finished,
    "manual": _manual_finished,
}
