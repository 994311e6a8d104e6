"""The engine's side of condensing: a ``context_condensed`` input answering a model call is
recorded once (state, usage, events) and the model call is asked for again."""

from __future__ import annotations

from agentspan.server.engine.model import CallLlm, Condensation, ContextCondensed, LlmResult

from support.decide import LOOKUP, Run, agent, call, commands, events


def condensed(upto: int, summary: str = "the gist", keep: list[int] | None = None) -> ContextCondensed:
    return ContextCondensed(
        condensation=Condensation(upto=upto, summary=summary, keep=keep or [0]),
        messages_before=6,
        messages_after=4,
        exchanges_condensed=2,
        summary_call=LlmResult(
            content=summary, model="openai/gpt-4o", prompt_tokens=300, completion_tokens=20, cost_usd=0.001
        ),
    )


def long_run() -> Run:
    run = Run(agent(LOOKUP))
    run.start("find it")
    for n in range(1, 3):
        run.llm("", call("lookup", {"q": str(n)}))
        run.ok(f"c{n}", "x" * 100)
    return run


def test_a_condensing_is_recorded_with_its_usage_and_the_model_call_is_asked_again() -> None:
    run = long_run()
    assert run.state.awaiting_llm and run.state.message_count == 5
    usage_before = run.state.usage.total_tokens
    d = run.apply(condensed(3))
    assert commands(d, CallLlm) == [CallLlm()]
    assert d.state.awaiting_llm and d.state.turn == 2, "the turn itself is still to come"
    assert d.state.condensed == Condensation(upto=3, summary="the gist", keep=[0], count=1)
    assert d.state.usage.total_tokens == usage_before + 320
    assert abs(d.state.usage.cost_usd - 0.001) < 1e-9
    (call_event,) = events(d, "llm_call")
    assert call_event.fields["data"]["purpose"] == "condense"
    (event,) = events(d, "context_condensed")
    assert event.fields == {
        "content": "proactive",
        "data": {
            "messagesBefore": 6,
            "messagesAfter": 4,
            "exchangesCondensed": 2,
            "upto": 3,
            "summaryChars": 8,
            "count": 1,
        },
    }
    assert not d.messages, "the stored conversation is never rewritten"
    d = run.llm("Found it.")
    assert d.state.status == "COMPLETED" and d.state.condensed is not None


def test_a_second_condensing_moves_forward_and_counts() -> None:
    run = long_run()
    run.apply(condensed(3))
    d = run.apply(condensed(4, "newer gist"))
    assert d.state.condensed is not None and (d.state.condensed.upto, d.state.condensed.count) == (4, 2)


def test_a_stale_or_backward_condensing_is_dropped() -> None:
    run = long_run()
    run.apply(condensed(3))
    d = run.apply(condensed(3, "again"))  # no progress: e.g. a duplicate delivery
    assert not d.events and not d.commands and d.state.condensed is not None
    assert d.state.condensed.summary == "the gist"
    d = run.apply(condensed(99))  # past the conversation
    assert not d.events
    run.llm("Done.")
    d = run.apply(condensed(4))  # the run ended: a late input is ignored
    assert not d.events and not d.commands
