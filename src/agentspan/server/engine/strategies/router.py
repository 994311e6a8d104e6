"""``router``: a router (an agent, or the user's function) picks exactly one sub-agent,
whose answer is the team's."""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig, TaskRef
from agentspan.server.engine.functions import call_fn, fn_answer
from agentspan.server.engine.model import (
    ChildFinished,
    PendingFn,
    Start,
    StartChild,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.steps import Step, finish, output_text
from agentspan.server.engine.strategies.base import Strategy
from agentspan.server.engine.strategies.members import (
    begin_team,
    conversation,
    names,
    nothing_held,
    on_member_finished,
    run_member,
    stop_team,
)


def start(spec: AgentConfig, d: Step, inp: Start) -> None:
    begin_team(spec, d)
    router = spec.router
    if isinstance(router, TaskRef):
        call_fn(d, "router", router.task_name, {"prompt": d.state.prompt, "agents": names(spec)})
        return
    if router is None:
        finish(
            d, "FAILED", error="a router team needs router= (an agent or a function)", finish_reason="error"
        )
        return
    lines = "\n".join(
        f"- {a.name}: {a.introduction or (a.instructions if isinstance(a.instructions, str) else '') or 'no description'}"
        for a in spec.agents
    )
    instructions = (
        f"{router.instructions or ''}\n\nChoose the one agent best suited to the request. "
        f"Agents:\n{lines}\nAnswer with the agent's name only."
    ).strip()
    chooser = router.model_copy(update={"instructions": instructions, "agents": [], "strategy": None})
    d.state.active = router.name
    d.commands.append(StartChild(spec=chooser, prompt=d.state.prompt, link=f"team:{router.name}"))


def _pick(candidates: list[str], answer: str) -> str | None:
    cleaned = answer.strip().strip("`'\".").strip()
    for name in candidates:
        if cleaned.lower() == name.lower():
            return name
    found = [n for n in candidates if n.lower() in answer.lower()]
    return max(found, key=len) if found else None


def _chose(spec: AgentConfig, d: Step, answer: str) -> None:
    if d.state.stop_requested:  # stopped while choosing (the chooser too): nobody runs
        finish(d, "COMPLETED", output=None, finish_reason="stopped")
        return
    candidates = names(spec)
    choice = _pick(candidates, answer)
    if choice is None:
        finish(
            d,
            "FAILED",
            error=f"the router answered {answer[:200]!r}, which names none of: {', '.join(candidates)}",
            finish_reason="error",
        )
        return
    run_member(spec, d, choice, conversation(spec, d, choice))


def member_finished(spec: AgentConfig, d: Step, inp: ChildFinished, name: str) -> None:
    s = d.state
    router = spec.router
    if isinstance(router, AgentConfig) and name == router.name and name not in names(spec):
        if inp.status != "COMPLETED":
            finish(d, "FAILED", error=f"the router failed: {inp.error}", finish_reason="error")
            return
        _chose(spec, d, output_text(inp.output))
        return
    s.sub_results[name] = inp.output
    if inp.status == "COMPLETED":
        finish(d, "COMPLETED", output=inp.output, finish_reason="stopped" if s.stop_requested else "stop")
    else:
        finish(d, "FAILED", error=f"'{name}' {inp.status}: {inp.error}", finish_reason="error")


def on_router(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    _chose(spec, d, str(fn_answer(inp, "selected_agent", "")))


STRATEGY = Strategy(
    name="router",
    start=start,
    child_finished=on_member_finished(member_finished),
    resume=nothing_held,
    stop=stop_team,
    fn_results={"router": on_router},
)
