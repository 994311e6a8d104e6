"""The engine's side of the message queue: a ``wait_for_message_tool`` call asks the
driver for messages (``PullMessages``), waits when told to block, is answered as a tool
result, and a stop or signal does what the reference does."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentspan.protocol.spec import parse_tool
from agentspan.server.engine.model import (
    CallLlm,
    MessageArrived,
    PullMessages,
    RunTool,
    SignalSet,
    Stop,
)
from agentspan.server.engine.waits import pending_tool, waiting_calls, waiting_reason

from support.decide import Run, agent, call, commands, events

INBOX = {"name": "inbox", "toolType": "pull_workflow_messages", "description": "wait for a message"}


def _waiting(batch: int = 1, blocking: bool = True) -> Run:
    config: dict[str, object] = {"batchSize": batch}
    if not blocking:
        config["blocking"] = False
    run = Run(agent(parse_tool({**INBOX, "config": config})))
    run.start()
    return run


def test_a_blocking_call_asks_for_messages_and_shows_as_waiting() -> None:
    run = _waiting(batch=3)
    d = run.llm("waiting", call("inbox"))
    assert commands(d, PullMessages) == [PullMessages("c1", 3, True)]
    assert not commands(d, RunTool)  # no task: nothing polls
    (waiting,) = events(d, "waiting")
    assert waiting.fields["pending_tool"] == {
        "taskRefName": "c1",
        "tool_name": "inbox",
        "parameters": {},
        "kind": "messages",
    }
    (call_state,) = waiting_calls(run.state)
    assert pending_tool(call_state)["kind"] == "messages"
    assert waiting_reason(run.state) == "Tool 'inbox' waits for a message (send_message)."


def test_a_non_blocking_call_asks_once_without_waiting() -> None:
    run = _waiting(blocking=False)
    d = run.llm("peek", call("inbox"))
    assert commands(d, PullMessages) == [PullMessages("c1", 1, False)]
    assert not events(d, "waiting")


def test_the_delivered_messages_are_the_call_result_and_the_turn_goes_on() -> None:
    run = _waiting()
    run.llm("waiting", call("inbox"))
    d = run.ok("c1", {"messages": [{"text": "hi"}], "count": 1})
    assert events(d, "tool_result")[0].fields["result"] == {"messages": [{"text": "hi"}], "count": 1}
    assert commands(d, CallLlm)
    assert waiting_calls(run.state) == []


def test_a_message_is_recorded_and_asks_again_for_each_waiting_call() -> None:
    run = _waiting(batch=2)
    run.llm("two waits", call("inbox"), call("inbox"))
    d = run.apply(MessageArrived(seq=1, message={"text": "hi"}))
    assert events(d, "message_received")[0].fields == {"data": {"seq": 1, "message": {"text": "hi"}}}
    assert commands(d, PullMessages) == [PullMessages("c1", 2, True), PullMessages("c2", 2, True)]


def test_a_message_with_no_call_waiting_is_only_recorded() -> None:
    run = _waiting()
    d = run.apply(MessageArrived(seq=1, message={"text": "early"}))
    assert events(d, "message_received") and not d.commands


def test_a_message_answered_call_is_not_answered_twice() -> None:
    run = _waiting()
    run.llm("waiting", call("inbox"))
    run.ok("c1", {"messages": [1], "count": 1})
    d = run.ok("c1", {"messages": [2], "count": 1})
    assert not events(d, "tool_result")  # a duplicate answer changes nothing


def test_a_signal_is_kept_until_replaced_or_cleared() -> None:
    run = _waiting()
    d = run.apply(SignalSet(message="be brief"))
    assert run.state.signal == "be brief" and events(d, "signal")[0].fields == {"content": "be brief"}
    run.apply(SignalSet(message=""))
    assert run.state.signal == ""


def test_a_stop_while_waiting_ends_the_run_once_the_wait_is_answered() -> None:
    run = _waiting()
    run.llm("waiting", call("inbox"))
    run.apply(Stop())
    assert run.state.stop_requested and not run.state.terminal
    run.ok("c1", {"messages": [{"_signal": "stop"}], "count": 1})
    after = run.state
    assert after.terminal and after.finish_reason == "stopped"


@pytest.mark.parametrize("batch", [0, 101])
def test_batch_sizes_outside_1_to_100_are_refused(batch: int) -> None:
    with pytest.raises(ValidationError):
        parse_tool({**INBOX, "config": {"batchSize": batch}})
