"""Any compiled LangGraph ``StateGraph`` as a durable graph, one superstep per durable step.

:func:`graph_agent` returns a native :class:`~agentspan.agents.Agent` without a model whose
spec says "LangGraph graph" (metadata ``_agent_type: langgraph_graph``) and whose one worker
tool, ``<graph>_superstep``, runs one superstep of the graph in this process. The server
(``engine/strategies/graph.py``) records the JSON checkpoint after every superstep and asks
for the next one; a process killed mid-superstep is replaced by any other process serving
the graph, which runs that superstep again from the recorded checkpoint.

One superstep here is LangGraph's own: the graph is run with an in-memory checkpointer
seeded from the recorded checkpoint and ``interrupt_after="*"``, so Pregel stops after one
superstep, whatever it ran: conditional edges, ``Send`` fan-out (every branch of the
superstep), ``Command(goto=…)``, and ``interrupt()`` (the interrupt and the writes of the
superstep's other nodes are kept with the checkpoint; the answer resumes it with
``Command(resume=…)``). Model calls inside the nodes are seen through a LangChain callback
and reported with their tokens.

A checkpointer the graph was compiled with is respected: it receives every checkpoint of
the run (thread id = the execution id), so ``graph.get_state({"configurable":
{"thread_id": execution_id}})`` reads the run's state from it. The run itself resumes from
the server's copy, never from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from agentspan._core.errors import ConfigurationError, TerminalToolError
from agentspan._core.tool import ToolContext, ToolDef
from agentspan.agents._agent import Agent
from agentspan.frameworks.langgraph import native_name
from agentspan.frameworks.langgraph_codec import UnencodableState, decode, encode, plain

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.outputs import LLMResult
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.errors import GraphInterrupt
    from langgraph.types import Command
except ImportError as exc:  # pragma: no cover - exercised in a process without the package
    raise ImportError(
        "running LangGraph graphs needs the langgraph and langchain-core packages: "
        "pip install 'agentspan[langgraph]'"
    ) from exc

try:  # the limit LangGraph applies when a graph sets none (its own default, settable by env)
    from langgraph._internal._config import DEFAULT_RECURSION_LIMIT

    _DEFAULT_LIMIT = int(DEFAULT_RECURSION_LIMIT)
except ImportError:  # pragma: no cover - another langgraph layout
    _DEFAULT_LIMIT = 10_000

__all__ = ["graph_agent", "run_superstep"]

AGENT_TYPE = "langgraph_graph"
_INTERRUPT = "__interrupt__"
MAX_CHECKPOINT_BYTES = 4 * 1024 * 1024
"""The largest JSON checkpoint a superstep may record: it is sent to the server with the
superstep's result (whose request limit is 8 MiB by default) and kept in the run's state."""
MAX_ANSWER_BYTES = 7 * 1024 * 1024
"""The largest superstep result sent (checkpoint, node updates, output), under the server's
default request limit."""
MAX_SHOWN_UPDATE_BYTES = 64 * 1024
"""A node's update larger than this as JSON is shown in its ``tool_result`` event as a
preview (the checkpoint keeps all of it)."""


def _refuse(graph: Any) -> None:
    where = f"LangGraph graph {graph.name!r}"
    static = [f"interrupt_before={n!r}" for n in graph.interrupt_before_nodes or ()]
    static += [f"interrupt_after={n!r}" for n in graph.interrupt_after_nodes or ()]
    if static:
        raise ConfigurationError(
            f"{where}: {', '.join(static)} (static breakpoints) is not supported; call interrupt() "
            "inside the node instead: it becomes a durable wait answered from any process"
        )
    if graph.checkpointer is True:
        raise ConfigurationError(
            f"{where}: checkpointer=True (inherit a parent's checkpointer) has no parent here; compile it "
            "with a checkpointer of yours or without one"
        )
    if getattr(graph, "store", None) is not None:
        raise ConfigurationError(
            f"{where}: a graph compiled with a store= is not supported yet (its writes would not be "
            "recorded with the run)"
        )


def graph_agent(graph: Any, context: Any = None) -> Agent:
    """The native agent that runs ``graph`` durably (see the module's docstring).

    A run ``context`` (a JSON object) is the run's durable state, which the worker passes to
    the graph as LangGraph's runtime context (``Runtime.context``, coerced to the graph's
    ``context_schema``)."""
    _refuse(graph)
    if context is not None and not isinstance(context, dict):
        raise ConfigurationError(
            f"LangGraph graph {graph.name!r}: the run context must be a JSON object (a dict), "
            f"not {type(context).__name__}"
        )
    name = native_name(graph.name)
    superstep = ToolDef(
        name=f"{name}_superstep",
        description=f"Runs one superstep of LangGraph graph {graph.name!r} from its recorded checkpoint",
        input_schema={"type": "object", "properties": {}},
        func=_superstep_worker(graph),
        retry_count=0,  # a node that raised fails the run; LangGraph's RetryPolicy retries inside
    )
    return Agent(
        name=name,
        tools=[superstep],
        metadata={"_agent_type": AGENT_TYPE, "_graph_task": superstep.name},
    )


def _superstep_worker(graph: Any) -> Any:
    async def superstep(context: ToolContext, **args: Any) -> dict[str, Any]:
        try:
            return await run_superstep(graph, context.execution_id, args, context.state or None)
        except UnencodableState as exc:
            raise TerminalToolError(f"LangGraph graph {graph.name!r}: {exc}") from exc
        except TerminalToolError:
            raise
        except Exception as exc:  # a node raised: the run fails with its error, not retried
            raise TerminalToolError(f"{type(exc).__name__}: {exc}") from exc

    superstep.__name__ = f"{native_name(graph.name)}_superstep"
    return superstep


class _ModelCalls(BaseCallbackHandler):
    """Collects the model calls made inside the nodes: model, tokens, latency, node."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._started: dict[UUID, tuple[float, str | None]] = {}

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any) -> None:
        node = (kwargs.get("metadata") or {}).get("langgraph_node")
        self._started[run_id] = (time.monotonic(), node if isinstance(node, str) else None)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        began, node = self._started.pop(run_id, (time.monotonic(), None))
        usage: dict[str, Any] = {}
        model = str((response.llm_output or {}).get("model_name") or "")
        finish = None
        for generation in (g for group in response.generations for g in group):
            message = getattr(generation, "message", None)
            if isinstance(message, AIMessage):
                usage = dict(message.usage_metadata or {})
                model = model or str(message.response_metadata.get("model_name") or "")
                finish = message.response_metadata.get("finish_reason")
        self.calls.append(
            {
                "model": model or "unknown",
                "node": node,
                "prompt_tokens": usage.get("input_tokens", 0),
                "completion_tokens": usage.get("output_tokens", 0),
                "cached_tokens": (usage.get("input_token_details") or {}).get("cache_read", 0),
                "reasoning_tokens": (usage.get("output_token_details") or {}).get("reasoning", 0),
                "latency_ms": round((time.monotonic() - began) * 1000, 1),
                "finish_reason": finish if isinstance(finish, str) else None,
            }
        )


def _first_input(graph: Any, prompt: Any) -> Any:
    """The graph's input from the run's prompt: a JSON object is the input state; text
    becomes the first user message of a graph with a ``messages`` key."""
    text = prompt if isinstance(prompt, str) else ""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    if "messages" in graph.channels:
        return {"messages": [HumanMessage(content=text)]}
    raise TerminalToolError(
        f"LangGraph graph {graph.name!r} has no 'messages' key: give run() its input state as a JSON "
        "object (e.g. run(graph, json.dumps({...})))"
    )


def _seed(saver: InMemorySaver, config: RunnableConfig, recorded: Mapping[str, Any]) -> None:
    """Put the recorded checkpoint (and its pending writes) into ``saver``, and those of the
    subgraphs an interrupt stopped inside (so they resume where they stopped)."""
    thread = config["configurable"]["thread_id"]
    for part in [recorded, *(recorded.get("subgraphs") or ())]:
        where: RunnableConfig = {"configurable": {"thread_id": thread, "checkpoint_ns": part.get("ns", "")}}
        checkpoint = decode(part["checkpoint"])
        stored = saver.put(where, checkpoint, decode(part["metadata"]), dict(checkpoint["channel_versions"]))
        for task_id, writes in _grouped(decode(part["writes"])).items():
            saver.put_writes(stored, writes, task_id)


def _encoded(item: Any, ns: str = "") -> dict[str, Any]:
    part = {
        "checkpoint": encode(item.checkpoint, "checkpoint"),
        "metadata": encode(dict(item.metadata or {}), "checkpoint metadata"),
        "writes": encode([list(w) for w in item.pending_writes or ()], "pending writes"),
    }
    if ns:
        part["ns"] = ns
    return part


def _interrupted_subgraphs(saver: InMemorySaver, thread_id: str) -> list[dict[str, Any]]:
    """The latest checkpoint of every subgraph namespace (newest first per namespace, as
    ``list`` yields them): what an interrupted subgraph resumes from."""
    latest: dict[str, Any] = {}
    for item in saver.list({"configurable": {"thread_id": thread_id}}):
        ns = item.config["configurable"].get("checkpoint_ns", "")
        if ns and ns not in latest:
            latest[ns] = item
    return [_encoded(item, ns) for ns, item in latest.items()]


def _check_recursion_limit(graph: Any, recorded: Mapping[str, Any]) -> None:
    """LangGraph counts its ``recursion_limit`` per invocation, and each superstep here is
    one: the run's total is checked instead, from the recorded checkpoint's step."""
    limit = int((graph.config or {}).get("recursion_limit") or _DEFAULT_LIMIT)
    metadata = recorded.get("metadata")
    step = metadata.get("step") if isinstance(metadata, dict) else None
    if isinstance(step, int) and step >= limit:
        raise TerminalToolError(
            f"LangGraph graph {graph.name!r}: recursion limit of {limit} supersteps reached without "
            "hitting a stop condition (set it with graph.with_config(recursion_limit=...))"
        )


def _grouped(writes: list[Any]) -> dict[str, list[tuple[str, Any]]]:
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in writes:
        grouped.setdefault(task_id, []).append((channel, value))
    return grouped


def _resume_value(args: Mapping[str, Any]) -> Any:
    """``Command(resume=…)``: the answer, for each interrupt waited on when there are several
    (an answer keyed by interrupt id answers each its own)."""
    answer, ids = args.get("resume"), [i for i in args.get("interrupts") or () if isinstance(i, str)]
    if len(ids) <= 1:
        return answer
    if isinstance(answer, dict) and set(answer) <= set(ids):
        return answer
    return dict.fromkeys(ids, answer)


async def run_superstep(
    graph: Any, thread_id: str, args: Mapping[str, Any], context: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run one superstep of ``graph`` from the checkpoint in ``args`` (``None``: the start,
    from ``args["input"]``); answer with the new checkpoint, the nodes that ran with what
    they wrote, interrupts, whether the graph is done (and its output), the model calls.
    ``context`` is LangGraph's runtime context (the run's context)."""
    saver = InMemorySaver()
    app = graph.copy(update={"checkpointer": saver})
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    recorded = args.get("checkpoint")
    if isinstance(recorded, dict):
        _check_recursion_limit(graph, recorded)
        _seed(saver, config, recorded)
        step_input: Any = Command(resume=_resume_value(args)) if "resume" in args else None
    else:
        step_input = _first_input(graph, args.get("input"))
    calls = _ModelCalls()
    nodes: list[dict[str, Any]] = []
    run_config = {**config, "callbacks": [calls]}
    try:
        async for chunk in app.astream(
            step_input, run_config, context=context, stream_mode="updates", interrupt_after="*"
        ):
            for node, update in chunk.items():
                if node != _INTERRUPT:
                    nodes.append({"node": node, "update": _shown(plain(update))})
    except GraphInterrupt:  # pragma: no cover - astream reports interrupts as a chunk
        pass
    latest = saver.get_tuple(config)
    if latest is None:
        raise TerminalToolError(f"LangGraph graph {graph.name!r} recorded no checkpoint")
    state = await app.aget_state(config)
    interrupts = [
        {
            "id": item.id,
            "value": plain(item.value),
            "node": task.name,
            "response_schema": getattr(item, "response_schema", None)
            if isinstance(getattr(item, "response_schema", None), dict)
            else None,
        }
        for task in state.tasks
        for item in task.interrupts
    ]
    done = not state.next and not interrupts
    encoded = _encoded(latest)
    if interrupts:
        encoded["subgraphs"] = _interrupted_subgraphs(saver, thread_id)
    size = len(json.dumps(encoded, separators=(",", ":")))
    if size > MAX_CHECKPOINT_BYTES:
        raise TerminalToolError(
            f"LangGraph graph {graph.name!r}: its checkpoint is {size} bytes as JSON, over the "
            f"{MAX_CHECKPOINT_BYTES} a durable graph records; keep large "
            "data outside the graph's state (files, a database) and put references in it"
        )
    seeded = recorded["checkpoint"].get("id") if isinstance(recorded, dict) else None
    made = [item for item in saver.list(config) if item.checkpoint["id"] != seeded]
    await _copy_to_users_saver(graph.checkpointer, list(reversed(made)), latest)
    answer: dict[str, Any] = {
        "checkpoint": encoded,
        "nodes": nodes,
        "interrupts": interrupts,
        "done": done,
        "llm_calls": calls.calls,
    }
    if done:
        answer["output"] = _output(state.values)
    size = len(json.dumps(answer, separators=(",", ":")))
    if size > MAX_ANSWER_BYTES:  # the server would refuse it, and the superstep would run again
        raise TerminalToolError(
            f"LangGraph graph {graph.name!r}: this superstep's result is {size} bytes as JSON, over the "
            f"{MAX_ANSWER_BYTES} a durable graph sends; keep large data outside the graph's state"
        )
    return answer


def _shown(update: Any) -> Any:
    """A node's update for its event: as it is, or a bounded preview of a large one."""
    text = json.dumps(update, separators=(",", ":"))
    if len(text) <= MAX_SHOWN_UPDATE_BYTES:
        return update
    return {"truncated": True, "bytes": len(text), "preview": text[:2000]}


def _output(values: Any) -> Any:
    """The run's output: the last AI message's text when the state has messages, else the
    final state as JSON."""
    messages = values.get("messages") if isinstance(values, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[-1], AIMessage):
        text = messages[-1].text
        return text if isinstance(text, str) else plain(messages[-1].content)
    return plain(values)


async def _copy_to_users_saver(saver: Any, made: list[Any], latest: Any) -> None:
    """Give the graph's own checkpointer the checkpoints this superstep made, oldest first,
    under the same ids, and the latest one's pending writes (an interrupted superstep makes
    no checkpoint, only writes)."""
    if not isinstance(saver, BaseCheckpointSaver):
        return
    for item in made:
        first: RunnableConfig = {
            "configurable": {k: v for k, v in item.config["configurable"].items() if k != "checkpoint_id"}
        }
        config: RunnableConfig = item.parent_config or first
        versions = dict(item.checkpoint["channel_versions"])
        try:
            await saver.aput(config, item.checkpoint, item.metadata, versions)
        except NotImplementedError:  # a synchronous saver (e.g. SqliteSaver)
            saver.put(config, item.checkpoint, item.metadata, versions)
    for task_id, group in _grouped(list(latest.pending_writes or ())).items():
        try:
            await saver.aput_writes(latest.config, group, task_id)
        except NotImplementedError:
            saver.put_writes(latest.config, group, task_id)
