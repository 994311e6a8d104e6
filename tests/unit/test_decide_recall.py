"""The engine's side of server-kept semantic memory (engine/recall.py): a start of an agent
whose memory names a server namespace first runs one ``memory_recall`` task; its answer is
recorded once (state, usage, ``memory_recalled``) and only then does the run begin."""

from __future__ import annotations

from agentspan.protocol.spec import CallbackSpec, MemorySpec
from agentspan.server.engine.model import CallLlm, LlmResult, RunTool

from support.decide import Run, agent, commands, events


def remembering(**memory: object) -> Run:
    return Run(agent(memory=MemorySpec(kind="semantic", namespace="facts", **memory)))  # type: ignore[arg-type]


def test_the_run_waits_for_the_recall_then_starts_with_what_it_found() -> None:
    run = remembering(max_results=3, embedding_model="openai/text-embedding-3-small")
    d = run.start("what colour is the sky?")
    (task,) = commands(d, RunTool)
    assert (task.executor, task.name) == ("memory_recall", "memory_recall")
    assert task.args == {
        "namespace": "facts",
        "index": "default",
        "query": "what colour is the sky?",
        "maxResults": 3,
        "embeddingModel": "openai/text-embedding-3-small",
    }
    assert "start" not in task.args, "what to carry on with stays in the state"
    assert not commands(d, CallLlm) and not d.messages, "no model call before the recall answered"

    usage = LlmResult(model="openai/text-embedding-3-small", prompt_tokens=6, cost_usd=0.0001)
    entries = [
        {"id": "e1", "content": "The sky is blue.", "score": 0.9, "rankedBy": "embedding"},
        {"id": "e2", "content": "Grass is green.", "score": 0.2, "rankedBy": "lexical"},
    ]
    d = run.ok(task.call_id, {"entries": entries}, usage=usage)
    assert d.state.recalled == "Relevant context from memory:\n  1. The sky is blue.\n  2. Grass is green."
    (recalled,) = events(d, "memory_recalled")
    assert recalled.fields == {
        "content": d.state.recalled,
        "data": {
            "namespace": "facts",
            "index": "default",
            "entryIds": ["e1", "e2"],
            "rankedBy": ["embedding", "lexical"],
        },
    }
    (embedding,) = events(d, "llm_call")
    assert embedding.fields["data"]["purpose"] == "embedding"
    assert d.state.usage.prompt_tokens == 6
    assert commands(d, CallLlm), "the run proper begins: its first model call"
    assert [m["role"] for m in d.messages] == ["user"]
    assert not d.state.pending

    d = run.llm("Blue.")
    assert d.state.status == "COMPLETED"
    assert not events(d, "memory_recalled"), "recalled once"


def test_a_failed_recall_is_retried_then_the_run_goes_on_without_memory() -> None:
    run = remembering()
    (task,) = commands(run.start("hi"), RunTool)
    d = run.fail(task.call_id, "embedding with 'openai/x' failed: 500", retryable=True)
    (again,) = commands(d, RunTool)
    assert again.call_id == task.call_id and again.attempt == 2
    run.fail(task.call_id, "still failing", retryable=True)
    d = run.fail(task.call_id, "gave up", retryable=True)
    (recalled,) = events(d, "memory_recalled")
    assert recalled.fields["data"]["error"] == "gave up"
    assert recalled.fields["data"]["entryIds"] == []
    assert d.state.recalled is None
    assert commands(d, CallLlm)


def test_nothing_relevant_records_an_empty_recall() -> None:
    run = remembering(index="notes")
    (task,) = commands(run.start("hi"), RunTool)
    assert task.args["index"] == "notes"
    d = run.ok(task.call_id, {"entries": []})
    (recalled,) = events(d, "memory_recalled")
    assert recalled.fields["content"] == "" and d.state.recalled is None
    assert not events(d, "llm_call"), "no query was embedded: no usage to record"


def test_the_before_agent_callback_runs_after_the_recall() -> None:
    spec = agent(
        memory=MemorySpec(kind="semantic", namespace="facts"),
        callbacks=[CallbackSpec(position="before_agent", task_name="cb")],
    )
    run = Run(spec)
    (recall,) = commands(run.start("hi"), RunTool)
    d = run.ok(recall.call_id, {"entries": []})
    (callback,) = commands(d, RunTool)
    assert callback.name == "cb" and callback.args["prompt"] == "hi"


def test_sdk_recalled_memory_and_an_empty_prompt_start_at_once() -> None:
    sdk = Run(agent(memory=MemorySpec(kind="semantic", messages=[{"role": "system", "content": "x"}])))
    assert commands(sdk.start("hi"), CallLlm)
    empty = remembering()
    assert commands(empty.start(""), CallLlm)
