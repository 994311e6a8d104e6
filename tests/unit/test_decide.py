"""The pure engine: ``decide(spec, state, input) -> Decision``, driven input by input.

No I/O: every test builds a spec, feeds inputs and asserts on the returned state, events,
messages and commands. ``Run`` (tests/support/decide.py) checks on every step that
``decide`` leaves its input state untouched. This file: starting, answers, tool calls,
retries, approvals, late inputs and limits; test_decide_flow.py has the rest.
"""

from __future__ import annotations

import copy

import pytest

from agentspan.protocol.spec import (
    DEFAULT_TOOL_RETRIES,
    DEFAULT_TOOL_RETRY_DELAY_SECONDS,
    AgentConfig,
)
from agentspan.server.engine import decide
from agentspan.server.engine.model import (
    ApprovalDecided,
    CallLlm,
    Cancel,
    Decision,
    ExecState,
    Input,
    LlmFailed,
    Pause,
    Rejected,
    Resume,
    RunTool,
    SetTimer,
    Start,
    Stop,
    TimedOut,
    ToolFailed,
    ToolSucceeded,
    WorkerMissing,
)
from agentspan.server.engine.tool_calls import MAX_RETRY_DELAY_SECONDS
from agentspan.server.engine.waits import APPROVAL_SCHEMA, waiting_reason

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
    reject,
    started,
    tool,
)

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
    answer = d.messages[0]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "c1"


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
    assert f"the arguments must be a JSON object, got {type_name}" in str(d.messages[-1]["content"])


def test_a_bad_call_waits_for_the_good_calls_of_the_same_turn() -> None:
    run = started(agent(LOOKUP))
    d = run.llm(None, call("lookup", "{oops"), call("lookup", {"q": 1}))
    assert d.commands == [RunTool(call_id="c2", name="lookup", args={"q": 1})]
    assert not d.messages[1:]  # only the assistant message so far
    d = run.ok("c2", "found")
    assert d.commands == [CallLlm()]
    assert [str(m["content"])[:6] for m in d.messages] == ["Error:", "found"]


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


def test_a_tool_runs_on_the_executor_its_type_names_on_every_attempt() -> None:
    """Worker tools go to workers; any other type (an OtherTool too) to the executor of
    that type, also when retried after a failure or re-run after a lost lease (the
    driver answers a call no executor serves as unsupported)."""
    fetch = tool("fetch", tool_type="quantum", retry_delay_seconds=0.5)
    run = started(agent(fetch, LOOKUP))
    d = run.llm(None, call("fetch"), call("lookup"))
    assert [(c.name, c.executor) for c in commands(d, RunTool)] == [
        ("fetch", "quantum"),
        ("lookup", "worker"),
    ]
    d = run.fail("c1", retryable=True)
    assert [(c.executor, c.attempt, c.delay_seconds) for c in commands(d, RunTool)] == [("quantum", 2, 0.5)]
    d = run.fail("c1", lease_lost=True)
    assert [(c.executor, c.attempt, c.delay_seconds) for c in commands(d, RunTool)] == [("quantum", 3, 0.0)]
    d = run.fail("c1", "Tool type 'quantum' is not supported by this server yet.", retryable=False)
    assert not commands(d, RunTool)
    run.ok("c2")
    assert run.messages[-2]["content"] == "Error: Tool type 'quantum' is not supported by this server yet."


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
        "response_schema": APPROVAL_SCHEMA,
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
    assert "check the bank first" in str(d.messages[-1]["content"])
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
        "response_schema": APPROVAL_SCHEMA,
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
    assert str(d.messages[-1]["content"]).endswith("Reason: no reason given")


def test_feedback_on_a_rejection_is_the_reason_the_call_records() -> None:
    run = started(agent(tool("publish", approval_required=True)))
    run.llm(None, call("publish", llm_id="X"))
    answer = ApprovalDecided(
        approved=False, decided_by="alice", decided_at=NOW + 5, extra={"feedback": "Shorten the title."}
    )
    d = run.apply(answer)
    assert str(d.messages[-1]["content"]).endswith("Reason: Shorten the title.")
    assert events(d, "tool_result")[0].fields["result"] == {"rejected": True, "reason": "Shorten the title."}


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
    run.apply(WorkerMissing(tool_names=["lookup"], waited_seconds=30))
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
