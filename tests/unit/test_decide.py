"""The pure engine: ``decide(spec, state, input) -> Decision``, driven input by input.

No I/O: every test builds a spec, feeds inputs and asserts on the returned state, events,
messages and commands. ``Run`` checks on every step that ``decide`` leaves its input state
untouched. The last section replays a few hundred random input sequences and checks the
engine's invariants after every step.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any, TypeVar

import pytest

from agentspan.protocol.spec import (
    DEFAULT_TOOL_RETRIES,
    DEFAULT_TOOL_RETRY_DELAY_SECONDS,
    AgentConfig,
    ToolConfig,
)
from agentspan.server.engine import decide
from agentspan.server.engine.loop import MAX_RETRY_DELAY_SECONDS, link_child
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
from agentspan.server.engine.waits import waiting_reason

NOW = 1_000.0
C = TypeVar("C")

# --------------------------------------------------------------------------- helpers


def tool(name: str, **kwargs: Any) -> ToolConfig:
    return ToolConfig(name=name, **kwargs)


def agent(*tools: ToolConfig, name: str = "assistant", **kwargs: Any) -> AgentConfig:
    return AgentConfig(name=name, model="offline/basic", tools=list(tools), **kwargs)


def call(name: str, args: dict[str, Any] | str | None = None, llm_id: str = "") -> ToolCallIn:
    """A tool call as the model returns it (``args`` as a dict, or raw argument text)."""
    raw = args if isinstance(args, str) else json.dumps(args or {})
    return ToolCallIn(id=llm_id, name=name, arguments=raw)


def commands(d: Decision, kind: type[C]) -> list[C]:
    return [c for c in d.commands if isinstance(c, kind)]


def events(d: Decision, type_: str) -> list[EventDraft]:
    return [e for e in d.events if e.type == type_]


def event_types(d: Decision) -> list[str]:
    return [e.type for e in d.events]


def approve(call_id: str | None = None, *, approved: bool = True, reason: str = "") -> ApprovalDecided:
    return ApprovalDecided(
        approved=approved, reason=reason, decided_by="alice", decided_at=NOW + 5, call_id=call_id
    )


def reject(call_id: str | None = None, reason: str = "") -> ApprovalDecided:
    return approve(call_id, approved=False, reason=reason)


class Run:
    """Feeds inputs to ``decide`` one at a time, keeping the latest state.

    Every step checks that ``decide`` did not mutate the state it was given.
    """

    def __init__(self, spec: AgentConfig, state: ExecState | None = None) -> None:
        self.spec = spec
        self.state = state if state is not None else ExecState()
        self.messages: list[dict[str, Any]] = []

    def apply(self, inp: Input) -> Decision:
        before = copy.deepcopy(self.state)
        dumped = self.state.model_dump()
        d = decide(self.spec, self.state, inp)
        assert self.state == before, "decide mutated its input state"
        assert self.state.model_dump() == dumped
        self.state = d.state
        self.messages.extend(d.messages)
        return d

    def start(self, prompt: str = "hello", timeout: float | None = None) -> Decision:
        return self.apply(Start(prompt=prompt, now=NOW, timeout_seconds=timeout))

    def llm(self, content: str | None = None, *calls: ToolCallIn, **kwargs: Any) -> Decision:
        return self.apply(LlmResult(content=content, tool_calls=list(calls), **kwargs))

    def ok(self, call_id: str, output: Any = "ok", **kwargs: Any) -> Decision:
        return self.apply(ToolSucceeded(call_id=call_id, output=output, **kwargs))

    def fail(self, call_id: str, error: str = "boom", **kwargs: Any) -> Decision:
        return self.apply(ToolFailed(call_id=call_id, error=error, **kwargs))


def started(spec: AgentConfig, prompt: str = "hello") -> Run:
    run = Run(spec)
    run.start(prompt)
    return run


def assert_finished(d: Decision, status: str, finish_reason: str) -> None:
    assert d.state.status == status
    assert d.state.terminal
    assert d.state.finish_reason == finish_reason
    assert d.state.awaiting_llm is False
    assert DropTasks() in d.commands
    assert not commands(d, CallLlm)
    assert not commands(d, RunTool)
    assert not commands(d, StartChild)
    ends = [e for e in d.events if e.type in ("done", "error")]
    assert len(ends) == 1
    assert ends[0].type == ("done" if status == "COMPLETED" else "error")
    assert ends[0].fields["data"]["finishReason"] == finish_reason


LOOKUP = tool("lookup", description="look something up")
WEATHER = tool("weather")


# --------------------------------------------------------------------------- start


def test_start_issues_the_first_model_call_with_the_user_message() -> None:
    d = Run(agent(LOOKUP)).start("What is the capital of France?")

    assert d.commands == [CallLlm()]
    assert d.messages == [{"role": "user", "content": "What is the capital of France?"}]
    assert event_types(d) == ["thinking"]
    assert "assistant" in d.events[0].fields["content"]
    assert "model call 1" in d.events[0].fields["content"]
    s = d.state
    assert s.status == "RUNNING"
    assert s.awaiting_llm is True
    assert s.turn == 0
    assert s.message_count == 1
    assert s.deadline is None
    assert waiting_reason(s) is None


def test_start_with_a_timeout_sets_a_timer_at_now_plus_timeout() -> None:
    d = Run(agent()).start(timeout=30)

    assert SetTimer(at=NOW + 30) in d.commands
    assert CallLlm() in d.commands
    assert d.state.deadline == NOW + 30


def test_start_uses_the_spec_timeout_when_the_request_gives_none() -> None:
    d = Run(agent(timeout_seconds=12)).start()
    assert commands(d, SetTimer) == [SetTimer(at=NOW + 12)]
    assert d.state.deadline == NOW + 12


def test_the_request_timeout_overrides_the_spec_timeout() -> None:
    d = Run(agent(timeout_seconds=12)).start(timeout=3)
    assert commands(d, SetTimer) == [SetTimer(at=NOW + 3)]


@pytest.mark.parametrize("timeout", [0, -5])
def test_a_zero_or_negative_timeout_sets_no_timer(timeout: float) -> None:
    d = Run(agent(timeout_seconds=40)).start(timeout=timeout)
    assert not commands(d, SetTimer)
    assert d.state.deadline is None


# --------------------------------------------------------------------------- final answers


def test_a_final_answer_completes_the_run() -> None:
    run = started(agent(LOOKUP))
    d = run.llm("Paris.", prompt_tokens=11, completion_tokens=3)

    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "Paris."
    assert d.state.last_text == "Paris."
    assert d.state.error is None
    assert d.state.turn == 1
    assert d.state.usage.prompt_tokens == 11
    assert d.state.usage.completion_tokens == 3
    assert d.state.usage.total_tokens == 14
    (done,) = events(d, "done")
    assert done.fields == {"output": "Paris.", "data": {"finishReason": "stop"}}
    assert d.messages == [{"role": "assistant", "content": "Paris.", "tool_calls": []}]
    assert d.state.message_count == 2


def test_an_empty_final_answer_completes_with_an_empty_output() -> None:
    d = started(agent()).llm(None)
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == ""


def test_usage_accumulates_over_turns() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup"), prompt_tokens=5, completion_tokens=2)
    run.ok("c1")
    d = run.llm("done", prompt_tokens=7, completion_tokens=1)
    usage = d.state.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 3, 15)
    assert usage.priced is False  # the harness sends no cost: the total is marked unpriced
    (call_event,) = events(d, "llm_call")
    assert call_event.fields["data"]["promptTokens"] == 7
    assert call_event.fields["data"]["completionTokens"] == 1
    assert d.state.turn == 2


# --------------------------------------------------------------------------- tool calls


def test_tool_calls_run_in_parallel_in_one_turn() -> None:
    spec = agent(tool("lookup", timeout_seconds=9), WEATHER)
    run = started(spec)
    d = run.llm(
        "Let me check.",
        call("lookup", {"q": "France"}, llm_id="call_A"),
        call("weather", {"city": "Paris"}, llm_id="call_B"),
    )

    assert d.commands == [
        RunTool(call_id="c1", name="lookup", args={"q": "France"}, timeout_seconds=9),
        RunTool(call_id="c2", name="weather", args={"city": "Paris"}),
    ]
    assert [e.fields for e in events(d, "tool_call")] == [
        {"tool_name": "lookup", "args": {"q": "France"}, "call_id": "c1"},
        {"tool_name": "weather", "args": {"city": "Paris"}, "call_id": "c2"},
    ]
    assert events(d, "message")[0].fields == {"content": "Let me check."}
    assert d.messages == [
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {"id": "call_A", "name": "lookup", "arguments": '{"q": "France"}'},
                {"id": "call_B", "name": "weather", "arguments": '{"city": "Paris"}'},
            ],
        }
    ]
    s = d.state
    assert s.call_order == ["c1", "c2"]
    assert [s.calls[c].status for c in s.call_order] == ["running", "running"]
    assert [s.calls[c].attempt for c in s.call_order] == [1, 1]
    assert [s.calls[c].llm_id for c in s.call_order] == ["call_A", "call_B"]
    assert s.awaiting_llm is False
    assert s.status == "RUNNING"


def test_no_message_event_when_the_model_only_calls_tools() -> None:
    d = started(agent(LOOKUP)).llm(None, call("lookup"))
    assert not events(d, "message")


def test_call_ids_are_stable_and_keep_counting_across_turns() -> None:
    run = started(agent(LOOKUP, WEATHER))
    run.llm(None, call("lookup"), call("weather"))
    run.ok("c1")
    run.ok("c2")
    d = run.llm(None, call("lookup", {"q": "again"}))
    assert [c.call_id for c in commands(d, RunTool)] == ["c3"]
    # the previous turn's calls are gone from the state
    assert d.state.call_order == ["c3"]
    assert d.state.call_counter == 3


def test_results_out_of_order_give_tool_messages_in_call_order_and_one_model_call() -> None:
    run = started(agent(LOOKUP, WEATHER))
    run.llm(None, call("lookup", llm_id="A"), call("weather", llm_id="B"), call("lookup", llm_id="C"))

    d3 = run.ok("c3", {"n": 3})
    assert not commands(d3, CallLlm) and not d3.messages
    d1 = run.ok("c1", "first")
    assert not commands(d1, CallLlm) and not d1.messages
    d2 = run.ok("c2", [2, 2])

    assert d2.commands == [CallLlm()]
    assert d2.messages == [
        {"role": "tool", "tool_call_id": "A", "name": "lookup", "content": "first"},
        {"role": "tool", "tool_call_id": "B", "name": "weather", "content": "[2, 2]"},
        {"role": "tool", "tool_call_id": "C", "name": "lookup", "content": '{"n": 3}'},
    ]
    assert [e.fields["call_id"] for e in d3.events + d1.events + events(d2, "tool_result")] == [
        "c3",
        "c1",
        "c2",
    ]
    assert events(d1, "tool_result")[0].fields == {"tool_name": "lookup", "result": "first", "call_id": "c1"}
    assert d2.state.awaiting_llm is True
    assert d2.state.message_count == 1 + 1 + 3
    assert "model call 2" in events(d2, "thinking")[0].fields["content"]


def test_tool_messages_echo_the_call_id_when_the_model_gave_none() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup", llm_id=""))
    d = run.ok("c1")
    assert d.messages[0]["tool_call_id"] == "c1"


def test_a_duplicate_tool_result_is_ignored() -> None:
    run = started(agent(LOOKUP, WEATHER))
    run.llm(None, call("lookup"), call("weather"))
    run.ok("c1", "first")
    d = run.ok("c1", "second")
    assert d.commands == [] and d.events == [] and d.messages == []
    assert d.state.calls["c1"].result == "first"
    d = run.fail("c1")
    assert d.commands == [] and d.events == []
    assert d.state.calls["c1"].error is None


def test_a_result_for_an_unknown_call_is_ignored() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup"))
    d = run.ok("c99")
    assert d.commands == [] and d.events == [] and d.messages == []
    assert d.state == run.state


def test_empty_arguments_count_as_an_empty_object() -> None:
    d = started(agent(LOOKUP)).llm(None, call("lookup", "  "))
    assert d.commands == [RunTool(call_id="c1", name="lookup", args={})]


# --------------------------------------------------------------------------- bad calls


def test_malformed_json_arguments_go_back_to_the_model() -> None:
    run = started(agent(LOOKUP))
    d = run.llm(None, call("lookup", '{"q": "Fra', llm_id="A"))

    assert not commands(d, RunTool)
    assert commands(d, CallLlm) == [CallLlm()]
    assert events(d, "tool_call")[0].fields == {"tool_name": "lookup", "args": {}, "call_id": "c1"}
    (result,) = events(d, "tool_result")
    assert "not valid JSON" in result.fields["result"]["error"]
    tool_msg = d.messages[-1]
    assert tool_msg["role"] == "tool"
    assert tool_msg["tool_call_id"] == "A"
    assert tool_msg["content"].startswith(
        "Error: Invalid call to tool 'lookup': the arguments are not valid JSON"
    )
    assert "Call it again with a JSON object" in tool_msg["content"]
    assert d.state.calls["c1"].status == "done"
    assert d.state.status == "RUNNING"
    assert d.state.message_count == 3


@pytest.mark.parametrize(
    ("raw", "type_name"), [("[1, 2]", "list"), ("3", "int"), ('"text"', "str"), ("null", "NoneType")]
)
def test_non_object_arguments_go_back_to_the_model(raw: str, type_name: str) -> None:
    d = started(agent(LOOKUP)).llm(None, call("lookup", raw))
    assert not commands(d, RunTool)
    assert commands(d, CallLlm)
    assert f"the arguments must be a JSON object, got {type_name}" in d.messages[-1]["content"]


def test_a_bad_call_waits_for_the_good_calls_of_the_same_turn() -> None:
    run = started(agent(LOOKUP))
    d = run.llm(None, call("lookup", "{oops"), call("lookup", {"q": 1}))
    assert d.commands == [RunTool(call_id="c2", name="lookup", args={"q": 1})]
    assert not d.messages[1:]  # only the assistant message so far
    d = run.ok("c2", "found")
    assert d.commands == [CallLlm()]
    assert [m["content"][:6] for m in d.messages] == ["Error:", "found"]


def test_an_unknown_tool_is_answered_with_the_available_tools() -> None:
    run = started(agent(LOOKUP, WEATHER))
    d = run.llm(None, call("lookupp", {"q": 1}))
    assert not commands(d, RunTool)
    assert commands(d, CallLlm)
    assert d.messages[-1]["content"] == "Error: Unknown tool 'lookupp'. Available tools: lookup, weather."
    assert events(d, "tool_call")[0].fields["args"] == {"q": 1}


def test_an_unknown_tool_on_an_agent_without_tools() -> None:
    d = started(agent()).llm(None, call("anything"))
    assert d.messages[-1]["content"] == "Error: Unknown tool 'anything'. Available tools: none."


def test_an_unsupported_tool_type_goes_back_to_the_model() -> None:
    d = started(agent(tool("fetch", tool_type="quantum"))).llm(None, call("fetch"))
    assert not commands(d, RunTool)
    assert "Tool type 'quantum' is not supported" in d.messages[-1]["content"]
    assert commands(d, CallLlm)


# --------------------------------------------------------------------------- retries


def retry_delays(d: Decision) -> list[float]:
    return [e.fields["data"]["delaySeconds"] for e in events(d, "tool_retry")]


def test_a_failed_tool_is_retried_with_the_default_backoff_then_the_model_sees_the_error() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup", {"q": 1}))
    delays: list[float] = []
    for attempt in range(1, DEFAULT_TOOL_RETRIES + 1):
        d = run.fail("c1", f"timeout #{attempt}")
        (retry,) = commands(d, RunTool)
        assert retry.call_id == "c1"
        assert retry.args == {"q": 1}
        assert d.state.calls["c1"].attempt == attempt + 1
        (event,) = events(d, "tool_retry")
        assert event.fields["content"] == f"timeout #{attempt}"
        assert event.fields["data"]["attempt"] == attempt
        assert retry.delay_seconds == event.fields["data"]["delaySeconds"]
        assert not commands(d, CallLlm)
        delays.append(retry.delay_seconds)
    assert delays == [DEFAULT_TOOL_RETRY_DELAY_SECONDS * 2**i for i in range(DEFAULT_TOOL_RETRIES)]

    d = run.fail("c1", "still broken")
    assert not commands(d, RunTool)
    assert d.commands == [CallLlm()]
    assert d.messages[-1]["content"] == "Error: still broken"
    assert events(d, "tool_result")[0].fields["result"] == {"error": "still broken"}
    assert d.state.status == "RUNNING"
    assert d.state.calls["c1"].attempt == DEFAULT_TOOL_RETRIES + 1

    d = run.llm("Sorry, the lookup is down.")
    assert_finished(d, "COMPLETED", "stop")


def test_retry_count_and_delay_come_from_the_tool_config() -> None:
    run = started(agent(tool("lookup", retry_count=3, retry_delay_seconds=0.5)))
    run.llm(None, call("lookup"))
    delays = [commands(run.fail("c1"), RunTool)[0].delay_seconds for _ in range(3)]
    assert delays == [0.5, 1.0, 2.0]
    d = run.fail("c1")
    assert not commands(d, RunTool)
    assert d.commands == [CallLlm()]


def test_backoff_is_capped() -> None:
    run = started(agent(tool("lookup", retry_count=5, retry_delay_seconds=20)))
    run.llm(None, call("lookup"))
    delays = [retry_delays(run.fail("c1"))[0] for _ in range(5)]
    assert delays == [20, 40, MAX_RETRY_DELAY_SECONDS, MAX_RETRY_DELAY_SECONDS, MAX_RETRY_DELAY_SECONDS]


def test_zero_retries_gives_the_first_error_to_the_model() -> None:
    run = started(agent(tool("lookup", retry_count=0)))
    run.llm(None, call("lookup"))
    d = run.fail("c1", "nope")
    assert d.commands == [CallLlm()]
    assert not events(d, "tool_retry")


def test_a_non_retryable_failure_is_not_retried() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup"))
    d = run.fail("c1", "invalid account", retryable=False)
    assert not commands(d, RunTool)
    assert not events(d, "tool_retry")
    assert d.commands == [CallLlm()]
    assert d.messages[-1]["content"] == "Error: invalid account"


def test_a_retry_waits_for_the_other_calls_of_the_turn() -> None:
    run = started(agent(LOOKUP, WEATHER))
    run.llm(None, call("lookup"), call("weather"))
    run.ok("c2", "sunny")
    d = run.fail("c1")
    assert commands(d, RunTool) and not commands(d, CallLlm)
    d = run.ok("c1", "found")
    assert d.commands == [CallLlm()]
    assert [m["content"] for m in d.messages] == ["found", "sunny"]


def test_a_lost_lease_on_a_retryable_tool_is_retried() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup"))
    d = run.fail("c1", "worker lost", lease_lost=True)
    assert [c.call_id for c in commands(d, RunTool)] == ["c1"]
    assert events(d, "tool_retry")
    assert not events(d, "waiting")


# --------------------------------------------------------------------------- outcome unknown


def test_a_lost_lease_on_a_non_retryable_tool_waits_for_a_human() -> None:
    run = started(agent(tool("pay", retryable=False)))
    run.llm(None, call("pay", {"amount": 10}, llm_id="P"))
    d = run.fail("c1", "worker lost during the call", lease_lost=True)

    assert d.commands == []
    assert not events(d, "tool_retry")
    (waiting,) = events(d, "waiting")
    assert waiting.fields["pending_tool"] == {
        "taskRefName": "c1",
        "tool_name": "pay",
        "parameters": {"amount": 10},
        "kind": "outcome_unknown",
    }
    assert "not retryable" in waiting.fields["content"]
    c1 = d.state.calls["c1"]
    assert c1.status == "awaiting_approval"
    assert c1.wait_kind == "outcome_unknown"
    assert d.state.awaiting_approval() == [c1]
    reason = waiting_reason(d.state)
    assert reason is not None and "not retryable" in reason

    d = run.apply(approve())
    assert d.commands == [RunTool(call_id="c1", name="pay", args={"amount": 10}, attempt=2)]
    assert d.state.calls["c1"].attempt == 2
    assert d.state.calls["c1"].wait_kind is None
    assert d.state.calls["c1"].status == "running"
    d = run.ok("c1", "paid")
    assert d.commands == [CallLlm()]
    assert d.messages == [{"role": "tool", "tool_call_id": "P", "name": "pay", "content": "paid"}]


def test_rejecting_an_unknown_outcome_gives_up_on_the_call() -> None:
    run = started(agent(tool("pay", retryable=False)))
    run.llm(None, call("pay"))
    run.fail("c1", lease_lost=True)
    d = run.apply(reject(reason="check the bank first"))
    assert not commands(d, RunTool)
    assert d.commands == [CallLlm()]
    assert "check the bank first" in d.messages[-1]["content"]
    # a late report from the lost worker changes nothing
    d = run.ok("c1", "paid after all")
    assert d.events == [] and d.commands == []


def test_an_explicit_failure_of_a_non_retryable_tool_is_still_retried() -> None:
    """``retryable=False`` on the tool only stops blind re-runs after a lost lease."""
    run = started(agent(tool("pay", retryable=False, retry_count=1)))
    run.llm(None, call("pay"))
    d = run.fail("c1", "card declined")
    assert [c.call_id for c in commands(d, RunTool)] == ["c1"]


def test_an_unknown_outcome_after_an_approval_can_be_decided_by_call_id() -> None:
    """Regression: the first approval must not make the later question ``already_decided``."""
    run = started(agent(tool("pay", approval_required=True, retryable=False)))
    run.llm(None, call("pay"))
    run.apply(approve("c1"))
    d = run.fail("c1", lease_lost=True)
    assert events(d, "waiting")[0].fields["pending_tool"]["taskRefName"] == "c1"
    assert d.state.calls["c1"].approval is None  # a new question
    # the UI approves what the waiting event showed it: taskRefName c1
    d = run.apply(approve("c1", reason="I checked: it did not go through"))
    assert d.commands == [RunTool(call_id="c1", name="pay", args={}, attempt=2)]
    assert d.state.calls["c1"].approval is not None
    assert d.state.calls["c1"].approval["reason"] == "I checked: it did not go through"
    with pytest.raises(Rejected) as info:
        run.apply(approve("c1"))
    assert info.value.code == "already_decided"


# --------------------------------------------------------------------------- approvals


def test_an_approval_required_tool_waits_for_a_human() -> None:
    run = started(agent(tool("delete_db", approval_required=True)))
    d = run.llm("I will delete it.", call("delete_db", {"name": "prod"}))

    assert d.commands == []
    (waiting,) = events(d, "waiting")
    assert waiting.fields["tool_name"] == "delete_db"
    assert waiting.fields["call_id"] == "c1"
    assert waiting.fields["content"] == "Tool 'delete_db' requires approval."
    assert waiting.fields["pending_tool"] == {
        "taskRefName": "c1",
        "tool_name": "delete_db",
        "parameters": {"name": "prod"},
        "kind": "approval",
    }
    c1 = d.state.calls["c1"]
    assert c1.status == "awaiting_approval"
    assert c1.wait_kind == "approval"
    assert d.state.status == "RUNNING"
    assert waiting_reason(d.state) == "Tool 'delete_db' requires approval."
    # nothing else moves it on
    for inp in (ToolSucceeded(call_id="c1", output="x"), ToolFailed(call_id="c1", error="x")):
        d2 = run.apply(inp)
        assert d2.commands == [] and d2.events == []


def test_approving_runs_the_tool() -> None:
    run = started(agent(tool("delete_db", approval_required=True, timeout_seconds=4)))
    run.llm(None, call("delete_db", {"name": "prod"}))
    d = run.apply(
        ApprovalDecided(
            approved=True,
            reason="fine",
            decided_by="alice",
            decided_at=NOW + 5,
            extra={"ticket": 42},
        )
    )

    assert d.commands == [RunTool(call_id="c1", name="delete_db", args={"name": "prod"}, timeout_seconds=4)]
    (event,) = events(d, "approval")
    expected = {
        "approved": True,
        "reason": "fine",
        "decidedBy": "alice",
        "decidedAt": NOW + 5,
        "extra": {"ticket": 42},
    }
    assert event.fields == {"tool_name": "delete_db", "call_id": "c1", "data": expected}
    assert d.state.calls["c1"].approval == expected
    assert d.state.calls["c1"].status == "running"
    assert d.state.awaiting_approval() == []
    assert not commands(d, CallLlm)

    d = run.ok("c1", "deleted")
    assert d.commands == [CallLlm()]
    d = run.llm("Done.")
    assert_finished(d, "COMPLETED", "stop")


def test_rejecting_never_runs_the_tool_and_tells_the_model() -> None:
    run = started(agent(tool("delete_db", approval_required=True)))
    run.llm(None, call("delete_db", {"name": "prod"}, llm_id="X"))
    d = run.apply(reject(reason="not on a Friday"))

    assert not commands(d, RunTool)
    assert d.commands == [CallLlm()]
    assert d.messages == [
        {
            "role": "tool",
            "tool_call_id": "X",
            "name": "delete_db",
            "content": "The user rejected this call to 'delete_db'; it was not run. Reason: not on a Friday",
        }
    ]
    assert events(d, "approval")[0].fields["data"]["approved"] is False
    assert events(d, "tool_result")[0].fields["result"] == {"rejected": True, "reason": "not on a Friday"}
    c1 = d.state.calls["c1"]
    assert c1.rejected is True
    assert c1.status == "done"
    assert c1.attempt == 0  # the tool body never ran

    d = run.llm("OK, I did not delete it.")
    assert_finished(d, "COMPLETED", "rejected")
    assert d.state.output == "OK, I did not delete it."


def test_a_rejection_without_a_reason_says_so() -> None:
    run = started(agent(tool("delete_db", approval_required=True)))
    run.llm(None, call("delete_db"))
    d = run.apply(reject())
    assert d.messages[-1]["content"].endswith("Reason: no reason given")


def test_a_rejection_only_marks_the_turn_that_had_it() -> None:
    run = started(agent(tool("delete_db", approval_required=True), LOOKUP))
    run.llm(None, call("delete_db"))
    run.apply(reject())
    run.llm(None, call("lookup"))
    run.ok("c2")
    d = run.llm("All good.")
    assert d.state.finish_reason == "stop"


def test_approval_when_not_waiting_is_rejected() -> None:
    run = started(agent(LOOKUP))
    with pytest.raises(Rejected) as info:
        run.apply(approve())
    assert info.value.code == "not_waiting"
    run.llm(None, call("lookup"))
    with pytest.raises(Rejected) as info:
        run.apply(approve("c1"))
    assert info.value.code == "not_waiting"
    with pytest.raises(Rejected) as info:
        run.apply(approve("c404"))
    assert info.value.code == "not_waiting"


def test_each_waiting_call_is_decided_once() -> None:
    spec = agent(tool("a", approval_required=True), tool("b", approval_required=True))
    run = started(spec)
    run.llm(None, call("a"), call("b"))
    assert [c.call_id for c in run.state.awaiting_approval()] == ["c1", "c2"]

    d = run.apply(approve("c1"))
    assert [c.call_id for c in commands(d, RunTool)] == ["c1"]
    with pytest.raises(Rejected) as info:
        run.apply(approve("c1"))
    assert info.value.code == "already_decided"
    with pytest.raises(Rejected) as info:
        run.apply(reject("c1"))
    assert info.value.code == "already_decided"

    # no call id: the first call still waiting
    d = run.apply(reject())
    assert events(d, "approval")[0].fields["call_id"] == "c2"
    assert not commands(d, CallLlm)  # c1 is still running
    d = run.ok("c1")
    assert d.commands == [CallLlm()]
    with pytest.raises(Rejected) as info:
        run.apply(approve("c2"))
    assert info.value.code == "already_decided"


def test_a_finished_call_does_not_skip_a_pending_approval() -> None:
    run = started(agent(tool("risky", approval_required=True), LOOKUP))
    run.llm(None, call("risky"), call("lookup"))
    d = run.ok("c2")
    assert d.commands == []
    assert run.state.awaiting_approval()
    d = run.apply(approve())
    assert [c.call_id for c in commands(d, RunTool)] == ["c1"]
    d = run.ok("c1")
    assert d.commands == [CallLlm()]
    assert len(d.messages) == 2


# --------------------------------------------------------------------------- duplicates and late inputs


def test_a_duplicate_model_result_is_ignored() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup"))
    d = run.llm("a second delivery", call("lookup"))
    assert d.commands == [] and d.events == [] and d.messages == []
    assert d.state == run.state
    assert d.state.turn == 1
    assert d.state.call_order == ["c1"]


def finished_state() -> tuple[AgentConfig, ExecState]:
    spec = agent(LOOKUP)
    run = started(spec)
    run.llm("done")
    assert run.state.terminal
    return spec, run.state


LATE_INPUTS: list[Input] = [
    LlmResult(content="late"),
    LlmFailed(error="late"),
    ToolSucceeded(call_id="c1", output=1),
    ToolFailed(call_id="c1", error="late"),
    ChildFinished(child_id="k", agent_name="sub", status="COMPLETED"),
    TimedOut(),
    WorkerMissing(tool_name="lookup", waited_seconds=60),
    WorkerFound(tool_name="lookup"),
]


@pytest.mark.parametrize("inp", LATE_INPUTS, ids=lambda i: i.kind)
def test_late_inputs_after_the_end_are_ignored(inp: Input) -> None:
    spec, state = finished_state()
    d = decide(spec, state, inp)
    assert d.state is state
    assert d.commands == [] and d.events == [] and d.messages == []


USER_COMMANDS: list[Input] = [
    Cancel(),
    Pause(),
    Resume(),
    Stop(),
    approve(),
    approve("c1"),
    Start(prompt="again", now=NOW),
]


@pytest.mark.parametrize("inp", USER_COMMANDS, ids=lambda i: i.kind)
def test_user_commands_on_an_ended_execution_are_rejected(inp: Input) -> None:
    spec, state = finished_state()
    before = copy.deepcopy(state)
    with pytest.raises(Rejected) as info:
        decide(spec, state, inp)
    assert info.value.code == "invalid_state"
    assert "COMPLETED" in str(info.value)
    assert state == before


# --------------------------------------------------------------------------- limits and ends


def test_max_turns_completes_the_run() -> None:
    run = started(agent(LOOKUP, max_turns=2))
    run.llm("first look", call("lookup"))
    d = run.ok("c1")
    assert d.commands == [CallLlm()]
    run.llm("second look", call("lookup"))
    d = run.ok("c2")
    assert_finished(d, "COMPLETED", "max_turns")
    assert d.state.output == "second look"
    assert d.state.turn == 2
    # the tool results are still recorded
    assert d.messages[-1]["role"] == "tool"


def test_max_turns_without_any_text_completes_with_no_output() -> None:
    run = started(agent(LOOKUP, max_turns=1))
    run.llm(None, call("lookup"))
    d = run.ok("c1")
    assert_finished(d, "COMPLETED", "max_turns")
    assert d.state.output is None
    assert events(d, "done")[0].fields["output"] is None


def test_a_failed_model_call_fails_the_run() -> None:
    run = started(agent())
    d = run.apply(LlmFailed(error="429 too many requests"))
    assert_finished(d, "FAILED", "error")
    assert d.state.error == "model call failed: 429 too many requests"
    assert events(d, "error")[0].fields["content"] == d.state.error
    assert events(d, "error")[0].fields["data"]["status"] == "FAILED"


def test_cancel_terminates_the_run() -> None:
    run = started(agent(LOOKUP))
    run.llm(None, call("lookup"))
    run.apply(WorkerMissing(tool_name="lookup", waited_seconds=30))
    d = run.apply(Cancel(reason="changed my mind"))
    assert_finished(d, "TERMINATED", "cancelled")
    assert d.state.error == "changed my mind"
    (error,) = events(d, "error")
    assert error.fields == {
        "content": "changed my mind",
        "data": {"status": "TERMINATED", "finishReason": "cancelled"},
    }
    assert d.state.missing_workers == []
    assert waiting_reason(d.state) is None


def test_cancel_without_a_reason() -> None:
    d = started(agent()).apply(Cancel())
    assert d.state.error == "Cancelled by user"


def test_timed_out_ends_the_run() -> None:
    run = Run(agent(LOOKUP))
    run.start(timeout=5)
    run.llm(None, call("lookup"))
    d = run.apply(TimedOut())
    assert_finished(d, "TIMED_OUT", "timeout")
    assert d.state.error == "the execution exceeded its timeout"
    assert events(d, "error")[0].fields["data"]["status"] == "TIMED_OUT"


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
    d = run.apply(WorkerMissing(tool_name="lookup", waited_seconds=61.4))
    (event,) = d.events
    assert event.type == "worker_missing"
    assert event.fields["tool_name"] == "lookup"
    assert "No worker is polling for tool 'lookup' (waited 61s)" in event.fields["content"]
    assert d.state.missing_workers == ["lookup"]
    assert d.commands == []
    assert waiting_reason(d.state) == "no worker is polling for tool 'lookup'"

    d = run.apply(WorkerMissing(tool_name="lookup", waited_seconds=120))
    assert d.events == []
    d = run.apply(WorkerMissing(tool_name="weather", waited_seconds=60))
    assert event_types(d) == ["worker_missing"]
    assert d.state.missing_workers == ["lookup", "weather"]

    d = run.apply(WorkerFound(tool_name="lookup"))
    assert d.events == [EventDraft("worker_found", {"tool_name": "lookup"})]
    assert d.state.missing_workers == ["weather"]
    d = run.apply(WorkerFound(tool_name="lookup"))
    assert d.events == []


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

    assert d.commands == [StartChild(spec=RESEARCHER.wire(), prompt="find the capital of France", link="c1")]
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
    assert d.commands == [StartChild(spec=RESEARCHER.wire(), prompt="x", link="c1")]


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
    assert d.commands == [StartChild(spec=STEPS[0].wire(), prompt="write about tides", link="step:0")]
    assert d.events == [EventDraft("handoff", {"target": "drafter"})]
    assert d.messages == []
    assert d.state.step == 0
    assert d.state.awaiting_llm is False


def test_a_pipeline_feeds_each_output_to_the_next_step_and_completes_with_the_last() -> None:
    run = Run(pipeline())
    run.start("write about tides")

    d = finish_step(run, "k0", "draft")
    assert d.commands == [StartChild(spec=STEPS[1].wire(), prompt="draft", link="step:1")]
    assert EventDraft("handoff", {"target": "editor"}) in d.events
    assert d.state.step == 1
    assert d.state.step_child is None
    assert d.state.sub_results == {"drafter": "draft"}

    d = finish_step(run, "k1", {"title": "Tides", "body": "..."})
    (start,) = commands(d, StartChild)
    assert json.loads(start.prompt) == {"title": "Tides", "body": "..."}
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
        WorkerMissing(tool_name="lookup", waited_seconds=5),
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
        workers: list[Input] = [WorkerMissing(tool_name=name, waited_seconds=30), WorkerFound(tool_name=name)]
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
