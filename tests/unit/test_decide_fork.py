"""The engine's ``Fork`` input (``engine/fork.py``): a fork's first step restores the
origin's conversation, turn and call numbers, then asks for the model call again, and
the numbers the llm_call event records are the ones a fork cuts the run at."""

from __future__ import annotations

from agentspan.protocol.messages import ChatMessage
from agentspan.server.engine.model import CallLlm, Fork, RunTool, SetTimer

from support.decide import LOOKUP, NOW, Run, agent, call, commands, started

CONVERSATION: list[ChatMessage] = [
    {"role": "user", "content": "where is A-1?"},
    {
        "role": "assistant",
        "content": "Looking.",
        "tool_calls": [{"id": "x1", "name": "lookup", "arguments": "{}"}],
    },
    {"role": "tool", "tool_call_id": "x1", "name": "lookup", "content": "shipped"},
]


def fork(**fields: object) -> Fork:
    values: dict[str, object] = {
        "prompt": "where is A-1?",
        "now": NOW,
        "seed": 7,
        "messages": CONVERSATION,
        "turn": 1,
        "call_counter": 1,
        "origin_id": "origin",
        "from_step": 5,
    }
    return Fork.model_validate({**values, **fields})


def test_a_fork_restores_the_run_and_asks_for_the_model_call_again() -> None:
    run = Run(agent(LOOKUP))
    d = run.apply(fork(timeout_seconds=30))
    assert run.messages == CONVERSATION
    assert (d.state.turn, d.state.call_counter, d.state.message_count) == (1, 1, 3)
    assert (d.state.prompt, d.state.seed, d.state.last_text) == ("where is A-1?", 7, "Looking.")
    assert len(commands(d, CallLlm)) == 1 and not commands(d, RunTool)
    assert [t.at for t in commands(d, SetTimer)] == [NOW + 30]
    # The next reply's calls are numbered after the origin's.
    d = run.llm(None, call("lookup", {"id": "B-2"}))
    assert list(d.state.calls) == ["c2"]


def test_a_fork_at_max_turns_finishes_without_a_model_call() -> None:
    run = Run(agent(LOOKUP, max_turns=1))
    d = run.apply(fork())
    assert d.state.status == "COMPLETED" and d.state.finish_reason == "max_turns"
    assert not commands(d, CallLlm)


def test_the_llm_call_event_records_where_the_conversation_stood() -> None:
    run = started(agent(LOOKUP))
    d = run.llm(None, call("lookup", {"id": "A-1"}))
    data = [e.fields["data"] for e in d.events if e.type == "llm_call"][0]
    assert (data["messageCount"], data["turn"]) == (1, 0)
    run.ok("c1", "shipped")
    d = run.llm("It shipped.")
    data = [e.fields["data"] for e in d.events if e.type == "llm_call"][0]
    assert (data["messageCount"], data["turn"]) == (3, 1)
