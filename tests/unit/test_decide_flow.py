"""The pure engine, continued: pause/resume/stop, workers and tool state, ``agent_tool``
children, sequential pipelines, purity, and a few hundred random input sequences checked
against the engine's invariants after every step (see test_decide.py for the first half).
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from agentspan.protocol.spec import (
    AgentConfig,
    ToolConfig,
)
from agentspan.server.engine import decide
from agentspan.server.engine.loop import link_child
from agentspan.server.engine.model import (
    ApprovalDecided,
    CallLlm,
    Cancel,
    CancelChild,
    ChildFinished,
    Decision,
    DropTasks,
    EventDraft,
    ExecState,
    Input,
    LlmFailed,
    LlmResult,
    Pause,
    Rejected,
    Resume,
    RunTool,
    SetTimer,
    Start,
    StartChild,
    Stop,
    TimedOut,
    ToolCallIn,
    ToolFailed,
    ToolSucceeded,
    WorkerFound,
    WorkerMissing,
)
from agentspan.server.engine.waits import START_A_WORKER, waiting_reason

from support.decide import (
    LATE_INPUTS,
    LOOKUP,
    NOW,
    WEATHER,
    Run,
    agent,
    approve,
    assert_finished,
    call,
    commands,
    event_types,
    events,
    started,
    tool,
)

# --------------------------------------------------------------------------- pause, resume, stop


def test_pause_holds_the_next_model_call_until_resume() -> None:
    run = started(agent(LOOKUP))
    d = run.apply(Pause())
    assert d.commands == []
    assert event_types(d) == ["paused"]
    assert d.state.status == "PAUSED" and d.state.paused
    assert waiting_reason(d.state) == "paused"

    # the in-flight model call still lands, and its tools still run
    d = run.llm(None, call("lookup"))
    assert [type(c) for c in d.commands] == [RunTool]
    d = run.ok("c1")
    assert d.commands == []
    assert d.state.llm_due is True
    assert d.state.awaiting_llm is False
    assert [m["role"] for m in d.messages] == ["tool"]
    assert not events(d, "thinking")

    d = run.apply(Pause())  # pausing twice changes nothing
    assert d.events == [] and d.commands == []

    d = run.apply(Resume())
    assert d.commands == [CallLlm()]
    assert event_types(d) == ["resumed", "thinking"]
    assert d.state.status == "RUNNING" and not d.state.paused
    assert d.state.llm_due is False
    assert d.state.awaiting_llm is True


def test_resume_without_a_due_model_call_issues_none() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup"))
    run.apply(Pause())
    d = run.apply(Resume())
    assert d.commands == []
    assert d.state.status == "RUNNING"
    d = run.ok("c1")
    assert d.commands == [CallLlm()]


def test_resume_when_not_paused_is_rejected() -> None:
    run = started(agent())
    with pytest.raises(Rejected) as info:
        run.apply(Resume())
    assert info.value.code == "invalid_state"


def test_stop_when_idle_finishes_with_the_last_text_at_once() -> None:
    run = started(agent(tool("risky", approval_required=True)))
    run.llm("Here is my draft.", call("risky"))
    d = run.apply(Stop())
    assert_finished(d, "COMPLETED", "stopped")
    assert d.state.output == "Here is my draft."
    assert events(d, "done")[0].fields["output"] == "Here is my draft."


def test_stop_when_paused_with_a_model_call_due_finishes_at_once() -> None:
    run = started(agent(LOOKUP))
    run.llm("text so far", call("lookup"))
    run.apply(Pause())
    run.ok("c1")
    d = run.apply(Stop())
    assert_finished(d, "COMPLETED", "stopped")
    assert d.state.output == "text so far"


def test_stop_when_busy_finishes_at_the_next_model_call_point() -> None:
    run = started(agent(LOOKUP))
    d = run.apply(Stop())
    assert d.commands == [] and not d.state.terminal
    assert d.state.stop_requested
    d = run.llm("Checking.", call("lookup"))
    assert [type(c) for c in d.commands] == [RunTool]
    d = run.ok("c1")
    assert_finished(d, "COMPLETED", "stopped")
    assert d.state.output == "Checking."
    assert d.state.message_count == 3


def test_stop_while_the_model_answers_keeps_the_answer() -> None:
    run = started(agent())
    run.apply(Stop())
    d = run.llm("Final answer.")
    assert d.state.status == "COMPLETED"
    assert d.state.output == "Final answer."


# --------------------------------------------------------------------------- workers and tool state


def test_worker_missing_is_reported_once_and_cleared_when_found() -> None:
    run = started(agent(LOOKUP, WEATHER))
    run.llm(None, call("lookup"), call("weather"))
    d = run.apply(WorkerMissing(tool_names=["lookup"], waited_seconds=61.4))
    (event,) = d.events
    assert event.type == "worker_missing"
    assert event.fields["tool_name"] == "lookup"
    assert "No worker is polling for tool 'lookup' (waited 61s)" in event.fields["content"]
    assert d.state.missing_workers == ["lookup"]
    assert d.commands == []
    assert waiting_reason(d.state) == f"no worker is polling for tool 'lookup': {START_A_WORKER}"
    assert "runtime.serve(agent)" in START_A_WORKER

    d = run.apply(WorkerMissing(tool_names=["lookup"], waited_seconds=120))
    assert d.events == []
    d = run.apply(WorkerMissing(tool_names=["weather"], waited_seconds=60))
    assert event_types(d) == ["worker_missing"]
    assert d.state.missing_workers == ["lookup", "weather"]

    d = run.apply(WorkerFound(tool_names=["lookup"]))
    assert d.events == [EventDraft("worker_found", {"tool_name": "lookup"})]
    assert d.state.missing_workers == ["weather"]
    d = run.apply(WorkerFound(tool_names=["lookup"]))
    assert d.events == []


def test_one_worker_missing_step_reports_many_tools_each_once() -> None:
    # The watchdog reports all of an execution's stalled tools in one step.
    tools = [LOOKUP, WEATHER, *(tool(f"t{i}") for i in range(12))]
    run = started(agent(*tools))
    run.llm(None, call("lookup"), call("weather"), *(call(f"t{i}") for i in range(12)))
    d = run.apply(WorkerMissing(tool_names=["lookup", "weather", "lookup"], waited_seconds=30))
    assert [e.fields["tool_name"] for e in d.events] == ["lookup", "weather"]
    d = run.apply(WorkerMissing(tool_names=["weather", *(f"t{i}" for i in range(12))], waited_seconds=30))
    assert [e.fields["tool_name"] for e in d.events] == [f"t{i}" for i in range(12)]
    # The status names ten tools and counts the rest.
    reason = waiting_reason(d.state)
    assert reason is not None and reason.endswith(f"'t7' and 4 more: {START_A_WORKER}")

    d = run.apply(WorkerFound(tool_names=["t1", "nobody", "lookup", "t1"]))
    assert d.events == [
        EventDraft("worker_found", {"tool_name": "t1"}),
        EventDraft("worker_found", {"tool_name": "lookup"}),
    ]
    assert "t1" not in d.state.missing_workers and "lookup" not in d.state.missing_workers
    assert len(d.state.missing_workers) == 12


def test_tool_state_updates_merge() -> None:
    run = Run(agent(LOOKUP), ExecState(tool_state={"user": "ann", "count": 0}))
    run.start()
    run.llm(None, call("lookup"), call("lookup"))
    d = run.ok("c1", "x", state_updates={"count": 1, "cart": ["a"]})
    assert d.state.tool_state == {"user": "ann", "count": 1, "cart": ["a"]}
    d = run.ok("c2", "y", state_updates={"count": 2})
    assert d.state.tool_state == {"user": "ann", "count": 2, "cart": ["a"]}
    d = run.ok("c2", "z", state_updates={"count": 99})  # a duplicate does not apply its updates
    assert d.state.tool_state["count"] == 2


# --------------------------------------------------------------------------- agent_tool


RESEARCHER = AgentConfig(name="researcher", model="offline/basic", instructions="Research things.")


def agent_tool(name: str = "research", **kwargs: Any) -> ToolConfig:
    return tool(name, tool_type="agent_tool", config={"agentConfig": RESEARCHER.wire()}, **kwargs)


def test_an_agent_tool_starts_a_child_and_its_result_goes_to_the_model() -> None:
    run = started(agent(agent_tool()))
    d = run.llm(None, call("research", {"request": "find the capital of France"}, llm_id="R"))

    assert d.commands == [StartChild(spec=RESEARCHER, prompt="find the capital of France", link="c1")]
    assert EventDraft("handoff", {"target": "researcher"}) in d.events
    assert d.state.calls["c1"].status == "child_running"
    assert d.state.calls["c1"].attempt == 1

    link_child(run.state, "c1", "child-1")
    assert run.state.calls["c1"].child_id == "child-1"
    d = run.apply(ChildFinished(child_id="child-2", agent_name="researcher", status="COMPLETED"))
    assert d.commands == [] and d.events == []

    d = run.apply(
        ChildFinished(child_id="child-1", agent_name="researcher", status="COMPLETED", output="Paris")
    )
    assert d.commands == [CallLlm()]
    assert d.messages == [{"role": "tool", "tool_call_id": "R", "name": "research", "content": "Paris"}]
    assert d.state.calls["c1"].status == "done"


def test_a_failed_child_is_an_error_for_the_model() -> None:
    run = started(agent(agent_tool()))
    run.llm(None, call("research", {"request": "x"}))
    link_child(run.state, "c1", "child-1")
    d = run.apply(ChildFinished(child_id="child-1", agent_name="researcher", status="FAILED", error="boom"))
    assert d.commands == [CallLlm()]
    assert d.messages[-1]["content"] == "Error: sub-agent 'researcher' FAILED: boom"
    assert d.state.status == "RUNNING"


def test_an_agent_tool_without_a_request_argument_gets_the_arguments_as_json() -> None:
    run = started(agent(agent_tool()))
    d = run.llm(None, call("research", {"topic": "tides", "depth": 2}))
    (start,) = commands(d, StartChild)
    assert json.loads(start.prompt) == {"topic": "tides", "depth": 2}


def test_an_agent_tool_without_an_agent_config_is_an_error_for_the_model() -> None:
    run = started(agent(tool("research", tool_type="agent_tool")))
    d = run.llm(None, call("research", {"request": "x"}))
    assert not commands(d, StartChild)
    assert d.messages[-1]["content"] == "Error: Tool 'research' has no agentConfig."
    assert d.commands == [CallLlm()]


def test_an_approved_agent_tool_starts_its_child() -> None:
    run = started(agent(agent_tool(approval_required=True)))
    d = run.llm(None, call("research", {"request": "x"}))
    assert d.commands == []
    d = run.apply(approve())
    assert d.commands == [StartChild(spec=RESEARCHER, prompt="x", link="c1")]


def test_cancel_cancels_running_children() -> None:
    run = started(agent(agent_tool(), LOOKUP))
    run.llm(None, call("research", {"request": "a"}), call("research", {"request": "b"}), call("lookup"))
    link_child(run.state, "c1", "child-1")
    link_child(run.state, "c2", "child-2")
    run.apply(ChildFinished(child_id="child-2", agent_name="researcher", status="COMPLETED", output="b"))
    d = run.apply(Cancel())
    assert_finished(d, "TERMINATED", "cancelled")
    assert commands(d, CancelChild) == [CancelChild(child_id="child-1", reason="parent terminated")]


def test_timeout_cancels_running_children() -> None:
    run = started(agent(agent_tool()))
    run.llm(None, call("research", {"request": "a"}))
    link_child(run.state, "c1", "child-1")
    d = run.apply(TimedOut())
    assert commands(d, CancelChild) == [CancelChild(child_id="child-1", reason="parent timed_out")]


def test_stop_waits_for_a_running_child() -> None:
    run = started(agent(agent_tool()))
    run.llm("Asking the researcher.", call("research", {"request": "a"}))
    link_child(run.state, "c1", "child-1")
    d = run.apply(Stop())
    assert not d.state.terminal
    d = run.apply(ChildFinished(child_id="child-1", agent_name="researcher", status="COMPLETED", output="r"))
    assert_finished(d, "COMPLETED", "stopped")
    assert d.state.output == "Asking the researcher."


# --------------------------------------------------------------------------- sequential pipelines


STEPS = [AgentConfig(name=n, model="offline/basic") for n in ("drafter", "editor", "publisher")]


def pipeline(steps: list[AgentConfig] = STEPS, **kwargs: Any) -> AgentConfig:
    return AgentConfig(name="newsroom", strategy="sequential", agents=steps, **kwargs)


def finish_step(
    run: Run, child_id: str, output: Any, status: str = "COMPLETED", error: str | None = None
) -> Decision:
    step = run.state.step
    link_child(run.state, f"step:{step}", child_id)
    return run.apply(
        ChildFinished(
            child_id=child_id, agent_name=STEPS[step].name, status=status, output=output, error=error
        )
    )


def test_a_pipeline_starts_its_first_step_with_the_prompt() -> None:
    d = Run(pipeline()).start("write about tides")
    assert d.commands == [StartChild(spec=STEPS[0], prompt="write about tides", link="step:0")]
    assert d.events == [EventDraft("handoff", {"target": "drafter"})]
    assert d.messages == []
    assert d.state.step == 0
    assert d.state.awaiting_llm is False


def test_a_pipeline_feeds_each_output_to_the_next_step_and_completes_with_the_last() -> None:
    run = Run(pipeline())
    run.start("write about tides")

    d = finish_step(run, "k0", "draft")
    later = "write about tides\n\nPrevious agent output:\n"
    assert d.commands == [StartChild(spec=STEPS[1], prompt=f"{later}draft", link="step:1")]
    assert EventDraft("handoff", {"target": "editor"}) in d.events
    assert d.state.step == 1
    assert d.state.step_child is None
    assert d.state.sub_results == {"drafter": "draft"}

    d = finish_step(run, "k1", {"title": "Tides", "body": "..."})
    (start,) = commands(d, StartChild)
    assert start.prompt.startswith(later)
    assert json.loads(start.prompt.removeprefix(later)) == {"title": "Tides", "body": "..."}
    assert start.link == "step:2"

    d = finish_step(run, "k2", "published")
    assert d.state.status == "COMPLETED"
    assert d.state.finish_reason == "stop"
    assert d.state.output == "published"
    assert DropTasks() in d.commands
    assert not commands(d, StartChild)
    assert [e.fields["output"] for e in events(d, "done")] == ["published"]
    assert d.state.sub_results == {
        "drafter": "draft",
        "editor": {"title": "Tides", "body": "..."},
        "publisher": "published",
    }


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED"])
def test_finishing_a_pipeline_does_not_cancel_the_step_that_just_ended(status: str) -> None:
    """Regression: a CancelChild for the finished step made the driver cancel a terminal child."""
    run = Run(pipeline(steps=STEPS[:1]))
    run.start("x")
    d = finish_step(run, "k0", "out", status=status, error="boom")
    assert d.state.terminal
    assert commands(d, CancelChild) == []


def test_a_failed_step_fails_the_pipeline() -> None:
    run = Run(pipeline())
    run.start("x")
    finish_step(run, "k0", "draft")
    d = finish_step(run, "k1", None, status="FAILED", error="editor crashed")
    assert d.state.status == "FAILED"
    assert d.state.finish_reason == "error"
    assert d.state.error == "step 'editor' FAILED: editor crashed"
    assert not commands(d, StartChild)
    assert DropTasks() in d.commands
    assert [e.type for e in d.events if e.type in ("done", "error")] == ["error"]


def test_a_pipeline_ignores_a_child_that_is_not_its_current_step() -> None:
    run = Run(pipeline())
    run.start("x")
    link_child(run.state, "step:0", "k0")
    d = run.apply(ChildFinished(child_id="stale", agent_name="drafter", status="COMPLETED", output="?"))
    assert d.commands == [] and d.events == []
    assert d.state.sub_results == {}


def test_a_pipeline_with_a_timeout_sets_a_timer_and_cancel_cancels_the_step() -> None:
    run = Run(pipeline(timeout_seconds=60))
    d = run.start("x")
    assert SetTimer(at=NOW + 60) in d.commands
    link_child(run.state, "step:0", "k0")
    d = run.apply(Cancel())
    assert d.state.status == "TERMINATED"
    assert commands(d, CancelChild) == [CancelChild(child_id="k0", reason="parent terminated")]


def test_stop_ends_a_pipeline_after_the_current_step() -> None:
    run = Run(pipeline())
    run.start("x")
    link_child(run.state, "step:0", "k0")
    d = run.apply(Stop())
    assert not d.state.terminal
    d = run.apply(ChildFinished(child_id="k0", agent_name="drafter", status="COMPLETED", output="draft"))
    assert d.state.status == "COMPLETED"
    assert d.state.output == "draft"
    assert not commands(d, StartChild)


# --------------------------------------------------------------------------- purity


def test_decide_never_mutates_its_input_state() -> None:
    spec = agent(LOOKUP, tool("risky", approval_required=True), agent_tool())
    state = ExecState()
    inputs: list[Input] = [
        Start(prompt="go", now=NOW, timeout_seconds=9),
        LlmResult(
            content="plan",
            tool_calls=[
                ToolCallIn(id="1", name="lookup", arguments="{}"),
                ToolCallIn(id="2", name="risky", arguments='{"a": [1]}'),
                ToolCallIn(id="3", name="research", arguments='{"request": "r"}'),
            ],
        ),
        WorkerMissing(tool_names=["lookup"], waited_seconds=5),
        ToolFailed(call_id="c1", error="flaky"),
        ToolSucceeded(call_id="c1", output={"v": 1}, state_updates={"k": "v"}),
        approve("c2"),
        ToolSucceeded(call_id="c2", output="ok"),
        Pause(),
    ]
    for inp in inputs:
        if inp.kind == "tool_succeeded" and "c3" in state.calls:
            link_child(state, "c3", "child")
        snapshot = copy.deepcopy(state)
        d = decide(spec, state, inp)
        assert state == snapshot
        assert d.state is not state
        state = d.state
    d = decide(spec, state, ChildFinished(child_id="child", agent_name="researcher", status="COMPLETED"))
    assert d.state.llm_due
    snapshot = copy.deepcopy(d.state)
    decide(spec, d.state, Cancel())
    assert d.state == snapshot


# --------------------------------------------------------------------------- property-style


TOOLS = [
    tool("lookup", retry_count=1, retry_delay_seconds=0.5),
    tool("risky", approval_required=True),
    tool("pay", retryable=False, retry_count=0),
    agent_tool(),
]
ARGUMENTS = ['{"q": 1}', '{"request": "go"}', "{bad", "[1]", ""]


def _random_llm_result(rng: random.Random) -> LlmResult:
    calls = [
        ToolCallIn(
            id=rng.choice(["", f"m{rng.randrange(100)}"]),
            name=rng.choice(["lookup", "risky", "pay", "research", "ghost"]),
            arguments=rng.choice(ARGUMENTS),
        )
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))
    ]
    return LlmResult(
        content=rng.choice([None, "", "some text"]),
        tool_calls=calls,
        prompt_tokens=rng.randrange(5),
        completion_tokens=rng.randrange(5),
    )


def _random_input(rng: random.Random, spec: AgentConfig, state: ExecState, children: list[str]) -> Input:
    call_ids = [*state.call_order, "c999"]
    roll = rng.random()
    if state.awaiting_llm and roll < 0.35:
        return _random_llm_result(rng)
    waiting = [c.call_id for c in state.awaiting_approval()]
    if waiting and roll < 0.3:
        return ApprovalDecided(
            approved=rng.random() < 0.6, decided_at=NOW, call_id=rng.choice([None, *waiting])
        )
    if roll < 0.40:
        return _random_llm_result(rng)  # usually a duplicate delivery
    if roll < 0.58:
        return ToolSucceeded(
            call_id=rng.choice(call_ids),
            output=rng.choice(["r", {"x": 1}, None]),
            state_updates=rng.choice([None, {"k": rng.randrange(3)}]),
        )
    if roll < 0.72:
        return ToolFailed(
            call_id=rng.choice(call_ids),
            error="err",
            retryable=rng.random() < 0.7,
            lease_lost=rng.random() < 0.3,
        )
    if roll < 0.80:
        return ApprovalDecided(
            approved=rng.random() < 0.6,
            decided_at=NOW,
            call_id=rng.choice([None, *call_ids]),
            reason=rng.choice(["", "no"]),
        )
    if roll < 0.88:
        return ChildFinished(
            child_id=rng.choice([*children, "stale-child"]),
            agent_name="sub",
            status=rng.choice(["COMPLETED", "COMPLETED", "FAILED"]),
            output="child out",
            error="child err",
        )
    if roll < 0.93:
        controls: list[Input] = [Pause(), Resume(), Pause(), Resume(), Stop()]
        return rng.choice(controls)
    if roll < 0.97:
        name = rng.choice(["lookup", "pay"])
        workers: list[Input] = [
            WorkerMissing(tool_names=[name], waited_seconds=30),
            WorkerFound(tool_names=[name]),
        ]
        return rng.choice(workers)
    endings: list[Input] = [Cancel(), TimedOut(), LlmFailed(error="x")]
    return rng.choice(endings)


_USER_KINDS = {"approval", "pause", "resume", "stop", "cancel", "start"}


def _check_progress_is_possible(spec: AgentConfig, s: ExecState) -> None:
    """Contract §4: a live execution is working, or visibly waiting (never stuck)."""
    if s.terminal:
        return
    if spec.strategy == "sequential":
        assert s.step < len(spec.agents)
        return
    in_flight = any(s.calls[c].status in ("running", "child_running") for c in s.call_order)
    waiting = bool(s.awaiting_approval())
    assert s.awaiting_llm or (s.paused and s.llm_due) or in_flight or waiting, s


def test_random_input_sequences_keep_the_engine_invariants() -> None:
    rng = random.Random(20240607)
    specs = [
        agent(*TOOLS, max_turns=3),
        agent(*TOOLS, max_turns=1),
        agent(*TOOLS[:2], max_turns=5, timeout_seconds=30),
        pipeline(),
    ]
    endings: dict[str, int] = {}
    for _ in range(400):
        spec = rng.choice(specs)
        run = Run(spec)
        d = run.start("go", timeout=rng.choice([None, 10]))
        outstanding_llm = len(commands(d, CallLlm))
        emitted_messages = len(d.messages)
        children: list[str] = []
        ended_children: set[str] = set()
        for _step in range(60):
            prev = run.state
            for start in commands(d, StartChild):
                child_id = f"k{len(children)}"
                children.append(child_id)
                link_child(prev, start.link, child_id)
            inp = _random_input(rng, spec, prev, children)
            try:
                d = run.apply(inp)
            except Rejected:
                assert inp.kind in _USER_KINDS, inp
                continue
            s = d.state
            emitted_messages += len(d.messages)
            # a child is only cancelled while it runs
            if isinstance(inp, ChildFinished):
                ended_children.add(inp.child_id)
            assert not {c.child_id for c in commands(d, CancelChild)} & ended_children
            if inp.kind == "llm_result" and prev.awaiting_llm:
                outstanding_llm -= 1
            outstanding_llm += len(commands(d, CallLlm))
            assert outstanding_llm <= 1, inp
            assert s.turn <= spec.max_turns
            assert s.message_count == emitted_messages
            ends = [e for e in d.events if e.type in ("done", "error")]
            for cmd in d.commands:
                if isinstance(cmd, RunTool):
                    assert s.calls[cmd.call_id].status == "running"
                    assert cmd.name == s.calls[cmd.call_id].name
            if s.terminal:
                assert not prev.terminal
                assert DropTasks() in d.commands
                assert len(ends) == 1
                assert not commands(d, CallLlm) and not commands(d, RunTool)
                assert not s.awaiting_llm
                endings[s.status] = endings.get(s.status, 0) + 1
                # late inputs change nothing from now on
                for late in LATE_INPUTS:
                    assert decide(spec, s, late).state is s
                break
            assert ends == []
            assert s.awaiting_llm == (outstanding_llm == 1)
            _check_progress_is_possible(spec, s)
    # the sequences really reached every kind of end
    assert set(endings) == {"COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"}
    assert sum(endings.values()) > 200


# --------------------------------------------------------------------------- structured output

REPORT_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}},
    "required": ["city", "temperature"],
}


def structured() -> AgentConfig:
    return AgentConfig(
        name="reporter", model="offline/basic", output_type={"schema": REPORT_SCHEMA, "className": "Report"}
    )


def test_a_valid_structured_answer_is_parsed() -> None:
    d = started(structured()).llm('```json\n{"city": "NYC", "temperature": 72}\n```')
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == {"city": "NYC", "temperature": 72}


def test_an_invalid_structured_answer_is_sent_back_then_accepted() -> None:
    run = started(structured())
    d = run.llm('{"city": "NYC"}')
    assert d.state.status == "RUNNING" and d.state.output_attempts == 1
    assert [type(c).__name__ for c in d.commands] == ["CallLlm"]
    feedback = d.messages[-1]
    assert feedback["role"] == "user" and "missing required field 'temperature'" in feedback["content"]
    assert events(d, "output_invalid")
    d = run.llm('{"city": "NYC", "temperature": 70.5}')
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == {"city": "NYC", "temperature": 70.5}


def test_structured_output_gives_up_after_bounded_retries() -> None:
    run = started(structured())
    run.llm("not json")
    run.llm('{"city": 1, "temperature": 2}')
    d = run.llm("[]")
    assert_finished(d, "FAILED", "error")
    assert d.state.error is not None and "after 3 attempts" in d.state.error


def test_a_lost_lease_reruns_at_once_without_using_the_retry_budget() -> None:
    run = started(agent(tool("fetch", retry_count=0)))
    run.llm(None, call("fetch"))
    d = run.fail("c1", "worker lost during the call", lease_lost=True)
    assert d.commands == [RunTool(call_id="c1", name="fetch", args={}, attempt=2)]
    (retry,) = events(d, "tool_retry")
    assert retry.fields["data"]["reason"] == "lease_expired"
    assert d.state.calls["c1"].lost == 1


def test_a_call_that_keeps_losing_its_worker_is_given_up() -> None:
    run = started(agent(tool("crashy")))
    run.llm(None, call("crashy"))
    for _ in range(5):
        d = run.fail("c1", "worker lost during the call", lease_lost=True)
        assert [type(c).__name__ for c in d.commands] == ["RunTool"]
    d = run.fail("c1", "worker lost during the call", lease_lost=True)
    assert [type(c).__name__ for c in d.commands] == ["CallLlm"]
    assert "lost 6 times" in (d.state.calls["c1"].error or "")


def test_required_workers_include_decision_functions() -> None:
    spec = AgentConfig.model_validate(
        {
            "name": "team",
            "strategy": "round_robin",
            "stopWhen": {"taskName": "team_stop_when"},
            "handoffs": [{"target": "a", "type": "on_condition", "taskName": "team_handoff_a"}],
            "agents": [
                {
                    "name": "a",
                    "model": "offline/x",
                    "gate": {"taskName": "a_gate"},
                    "tools": [{"name": "t1"}],
                },
                {"name": "b", "model": "offline/x"},
            ],
        }
    )
    assert spec.worker_task_names() == ["team_stop_when", "team_handoff_a", "a_gate", "t1"]
