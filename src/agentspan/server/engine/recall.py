"""Semantic memory kept by the server, recalled when an execution starts.

An agent whose ``memory`` names a server namespace (``kind: semantic``, ``namespace``)
has its memory index searched for the run's prompt before anything else happens: one
``memory_recall`` task (a server-side decision function, ``executors/recall.py``) whose
answer is recorded once: ``state.recalled`` (joined to the instructions of every model
call of the run), an ``llm_call`` for the query's embedding, and a ``memory_recalled``
event naming the entries. Then the run starts as it would have (``before_agent``
callback, input guardrails, the strategy). A recall that fails after the decision
function's retries lets the run go on without memory; the event says why.

This is the same for a root run, a sub-agent and a run started by name: the spec says
what to search, and the server does it.
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.callback_points import ask_before_agent
from agentspan.server.engine.callbacks import start_run
from agentspan.server.engine.functions import call_fn
from agentspan.server.engine.model import EventDraft, LlmResult, PendingFn, Start, ToolFailed, ToolSucceeded
from agentspan.server.engine.steps import Step, record_usage

RECALL = "memory_recall"
"""The executor kind (and task name) of a recall."""
DEFAULT_RECALL_RESULTS = 5
DEFAULT_INDEX = "default"
CONTEXT_HEADER = "Relevant context from memory:"
"""The SDK's ``SemanticMemory.get_context`` header: recalled text reads the same wherever
it was searched."""


def ask_recall(spec: AgentConfig, d: Step, start: Start) -> bool:
    """Start the recall of a server-kept semantic memory; False when there is none to do."""
    memory = spec.memory
    if memory is None or memory.kind != "semantic" or memory.namespace is None or not start.prompt.strip():
        return False
    args: dict[str, Any] = {
        "namespace": memory.namespace,
        "index": memory.index or DEFAULT_INDEX,
        "query": start.prompt,
        "maxResults": memory.max_results or DEFAULT_RECALL_RESULTS,
    }
    if memory.embedding_model:
        args["embeddingModel"] = memory.embedding_model
    if memory.dimensions:
        args["dimensions"] = memory.dimensions
    call_id = call_fn(d, "recall", RECALL, args, executor=RECALL)
    d.state.pending[call_id].resume = {"start": start.model_dump()}
    return True


def begin_run(spec: AgentConfig, d: Step, start: Start) -> None:
    """After the recall (if any): the ``before_agent`` callback, else the run proper."""
    if not ask_before_agent(spec, d, start):
        start_run(spec, d, start)


def on_recall_result(spec: AgentConfig, d: Step, fn: PendingFn, inp: ToolSucceeded | ToolFailed) -> None:
    """The recall answered (retries of a failed one are already spent): keep what it
    found, record it, and start the run."""
    entries: list[dict[str, Any]] = []
    if isinstance(inp, ToolSucceeded):
        out = inp.output if isinstance(inp.output, dict) else {}
        raw = out.get("entries")
        entries = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        if inp.usage is not None:
            record_usage(d, inp.usage, purpose="embedding")
        elif isinstance(out.get("usage"), dict):
            record_usage(d, LlmResult.model_validate(out["usage"]), purpose="embedding")
    text = context_text([str(e.get("content", "")) for e in entries])
    d.state.recalled = text or None
    data: dict[str, Any] = {
        "namespace": fn.args.get("namespace"),
        "index": fn.args.get("index"),
        "entryIds": [str(e.get("id", "")) for e in entries],
        "rankedBy": [str(e.get("rankedBy", "")) for e in entries],
    }
    if isinstance(inp, ToolFailed):
        data["error"] = inp.error
    d.events.append(EventDraft("memory_recalled", {"content": text, "data": data}))
    resume = fn.resume or {}
    begin_run(spec, d, Start.model_validate(resume.get("start") or {"prompt": "", "now": 0.0}))


def context_text(contents: list[str]) -> str:
    """The recalled entries as a numbered block for the instructions (``""``: none)."""
    if not contents:
        return ""
    return "\n".join([CONTEXT_HEADER, *(f"  {i}. {c}" for i, c in enumerate(contents, 1))])
