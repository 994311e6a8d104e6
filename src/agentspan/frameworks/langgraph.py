"""LangGraph prebuilt agents (``create_react_agent``, LangChain's ``create_agent``) on the
native engine.

:func:`to_agent` reads a compiled graph built by one of the two prebuilt constructors and
returns a native :class:`~agentspan.agents.Agent`:

* the chat model object becomes the agent's ``provider/model`` (``ChatOpenAI(model="gpt-4o")``
  → ``openai/gpt-4o``) and the server makes the model calls;
* every tool of the graph's ``ToolNode`` becomes a worker tool whose function calls the
  LangChain tool's own ``ainvoke`` in this process, so each call is a durable step;
* the prompt (``prompt=`` / ``system_prompt=``) becomes the instructions, ``response_format``
  structured output, and ``HumanInTheLoopMiddleware`` approval-required tools.

The graph's structure is read from LangGraph's compiled objects (node names, the closures of
the prebuilt model node); anything this cannot carry over is refused with a
:class:`ConfigurationError` naming it, never dropped. Any other graph (a ``StateGraph`` of
your own nodes) runs as a durable graph (``langgraph_graph.py``). Nothing is pickled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from agentspan._core.errors import ConfigurationError, TerminalToolError
from agentspan._core.tool import ToolContext, ToolDef
from agentspan.agents._agent import Agent
from agentspan.agents._scripted import ScriptedModel, ToolCall, Turn
from agentspan.protocol.spec import NAME_PATTERN

try:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.language_models.fake_chat_models import (
        FakeListChatModel,
        FakeMessagesListChatModel,
        GenericFakeChatModel,
    )
    from langchain_core.messages import BaseMessage, SystemMessage, ToolMessage
    from langchain_core.runnables import RunnableBinding, RunnableSequence
    from langchain_core.tools import BaseTool
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.prebuilt import ToolNode
except ImportError as exc:  # pragma: no cover - exercised in a process without the package
    raise ImportError(
        "running LangGraph graphs needs the langgraph and langchain-core packages: "
        "pip install 'agentspan[langgraph]'"
    ) from exc

__all__ = ["chat_model", "is_graph", "langchain_tool", "native_model", "native_name", "to_agent"]

log = logging.getLogger("agentspan.frameworks")

# Chat model classes (by class name) and the provider the server calls them through.
_PROVIDERS = {
    "ChatOpenAI": "openai",
    "ChatAnthropic": "anthropic",
    "ChatGoogleGenerativeAI": "google_gemini",
    "ChatOllama": "ollama",
    "ChatMistralAI": "mistral",
    "ChatGroq": "groq",
    "ChatDeepSeek": "deepseek",
}
# The environment variable each provider's client reads its endpoint from: a chat model whose
# endpoint is that default is the server's own endpoint for the provider, not an override.
_BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL", "ollama": "OLLAMA_BASE_URL"}
# Chat model settings the native agent has no equivalent for: logged when set.
_SETTINGS_IGNORED = (
    "top_p",
    "top_k",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "model_kwargs",
    "reasoning_effort",
    "n",
)
# Where chat model classes keep their endpoint, and the public endpoints they default to.
_BASE_URL_ATTRS = ("openai_api_base", "anthropic_api_url", "base_url")
_PUBLIC_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
# Nodes the prebuilt constructors add for themselves.
_REACT_NODES = {"agent", "tools", "generate_structured_response"}
_CREATE_AGENT_NODES = {"model", "tools"}
_HITL = "HumanInTheLoopMiddleware.after_model"


def _closure(func: Any) -> dict[str, Any]:
    """The variables a function closes over, by name (empty cells left out)."""
    code, cells = getattr(func, "__code__", None), getattr(func, "__closure__", None)
    if code is None or not cells:
        return {}
    found: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, cells, strict=False):
        try:
            found[name] = cell.cell_contents
        except ValueError:  # an empty cell: the variable was never assigned
            continue
    return found


def _node_func(graph: Any, node: str) -> Any:
    runnable = graph.builder.nodes[node].runnable
    return getattr(runnable, "func", None) or getattr(runnable, "afunc", None)


def chat_model(value: Any, where: str) -> Any:
    """The chat model inside ``value`` (a model, ``model.bind_tools(...)``, ``prompt | model``)."""
    while True:
        if isinstance(value, BaseChatModel):
            return value
        if isinstance(value, RunnableBinding):
            value = value.bound
        elif isinstance(value, RunnableSequence):
            value = value.last
        else:
            raise ConfigurationError(
                f"{where}: the model {type(value).__name__} is not a LangChain chat model; the Agentspan "
                "server makes the model calls, so it needs a chat model object (e.g. ChatOpenAI(model=...))"
            )


def _is_set(name: str, value: Any) -> bool:
    return value not in (None, {}, []) and not (name == "n" and value == 1)


def native_model(model: Any) -> dict[str, Any]:
    """The native agent's model options for a LangChain chat model object: ``model``
    (``provider/name``), and ``temperature``, ``max_tokens``, ``base_url`` when set.

    ``ChatOpenAI(model="gpt-4o")`` → ``openai/gpt-4o``. A class with no known provider is
    refused. A ``base_url`` other than the provider's environment default is kept as the
    agent's own endpoint, which the server only calls if its operator allows it.
    """
    kind = type(model).__name__
    if isinstance(model, _FAKE_MODELS):
        return {"model": scripted_model(model)}
    provider = _PROVIDERS.get(kind)
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    if provider is None or not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"LangChain chat model {kind}: cannot be mapped to a server-side model (supported: "
            f"{', '.join(sorted(_PROVIDERS))}, with a model name); the Agentspan server makes the model calls"
        )
    options: dict[str, Any] = {"model": f"{provider}/{name.removeprefix('models/')}"}
    temperature = getattr(model, "temperature", None)
    if isinstance(temperature, int | float):
        options["temperature"] = float(temperature)
    max_tokens = getattr(model, "max_tokens", None)
    if isinstance(max_tokens, int):
        options["max_tokens"] = max_tokens
    ignored = sorted(
        setting for setting in _SETTINGS_IGNORED if _is_set(setting, getattr(model, setting, None))
    )
    if ignored:
        log.warning(
            "LangChain chat model %s: ignoring %s (no Agentspan equivalent yet; docs/frameworks.md)",
            kind,
            ", ".join(ignored),
        )
    base_url = next(
        (v for v in (getattr(model, a, None) for a in _BASE_URL_ATTRS) if isinstance(v, str) and v), None
    )
    env = _BASE_URL_ENV.get(provider)
    defaults = {_PUBLIC_URLS.get(provider), os.environ.get(env) if env else None}
    if base_url is not None and base_url.rstrip("/") not in {d.rstrip("/") for d in defaults if d}:
        options["base_url"] = base_url
    return options


# LangChain's own fake chat models (and subclasses, e.g. one adding ``bind_tools`` for
# create_react_agent): their scripted replies become a ScriptedModel, so a graph built for
# tests runs offline here too.
_FAKE_MODELS = (GenericFakeChatModel, FakeMessagesListChatModel, FakeListChatModel)


def scripted_model(model: Any) -> ScriptedModel:
    """The replies a LangChain fake chat model holds, as a :class:`ScriptedModel` the
    server answers from: a text reply is a final answer, an ``AIMessage`` with
    ``tool_calls`` a tool-calling turn. ``GenericFakeChatModel`` keeps its replies in an
    iterator; it is read here and put back, so the model object still works in LangChain."""
    if isinstance(model, GenericFakeChatModel):
        replies = list(model.messages)
        model.messages = iter(replies)
    else:
        replies = list(model.responses)
    turns: list[Turn] = []
    for reply in replies:
        calls = getattr(reply, "tool_calls", None) or []
        if calls:
            turns.append([ToolCall(str(c["name"]), dict(c.get("args") or {})) for c in calls])
        else:
            content = reply if isinstance(reply, str) else getattr(reply, "content", "")
            if not isinstance(content, str):
                raise ConfigurationError(
                    f"{type(model).__name__}: a reply whose content is not text is not supported"
                )
            turns.append(content)
    if not turns:
        raise ConfigurationError(f"{type(model).__name__} has no replies to script the model with")
    return ScriptedModel(turns)


def native_name(name: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name or "langgraph_agent")
    return cleaned if NAME_PATTERN.match(cleaned) else f"agent_{cleaned}"


@dataclasses.dataclass
class _Parts:
    """What the prebuilt graph holds: model, prompt, tools, output type, approvals."""

    model: Any
    instructions: str
    tools: list[Any]
    output_type: Any
    approvals: set[str]


def _system_text(message: Any, where: str) -> str:
    if message is None:
        return ""
    if isinstance(message, SystemMessage) and isinstance(message.content, str):
        return message.content
    raise ConfigurationError(f"{where}: a system prompt that is not plain text is not supported yet")


def _react_parts(graph: Any, where: str) -> _Parts:
    """``langgraph.prebuilt.create_react_agent``: the model and prompt are in the closure of
    the ``agent`` node's ``call_model``; the structured output schema in the closure of
    ``generate_structured_response``."""
    cells = _closure(_node_func(graph, "agent"))
    if cells.get("is_dynamic_model"):
        raise ConfigurationError(f"{where}: a dynamic model (a function choosing the model) is not supported")
    static = cells.get("static_model")
    instructions = ""
    if isinstance(static, RunnableSequence):
        prompt = getattr(static.first, "func", None)
        qualname = getattr(prompt, "__qualname__", "")
        if not qualname.startswith("_get_prompt_runnable."):
            raise ConfigurationError(
                f"{where}: a prompt that is a function or runnable is not supported yet; give a string"
            )
        instructions = _system_text(_closure(prompt).get("_system_message"), where)
    output_type = None
    if "generate_structured_response" in graph.builder.nodes:
        output_type = _closure(_node_func(graph, "generate_structured_response")).get("response_format")
        if not isinstance(output_type, type):
            raise ConfigurationError(
                f"{where}: response_format must be a class (pydantic model, dataclass, TypedDict); "
                f"got {output_type!r}"
            )
    tools = _graph_tools(graph)
    bound = static.last if isinstance(static, RunnableSequence) else static
    offered = getattr(bound, "kwargs", {}).get("tools") or []
    _refuse_builtin_tools(
        [t for t in offered if (t.get("function") or {}).get("name") not in _names(tools)], where
    )
    return _Parts(chat_model(static, where), instructions, tools, output_type, set())


def _create_agent_parts(graph: Any, where: str, middleware: list[str]) -> _Parts:
    """``langchain.agents.create_agent``: model, system message and response format are in
    the closure of the ``model`` node."""
    cells = _closure(_node_func(graph, "model"))
    if cells.get("wrap_model_call_handler") is not None:
        raise ConfigurationError(f"{where}: middleware that wraps model calls is not supported yet")
    output_type = None
    response_format = cells.get("initial_response_format")
    if response_format is not None:
        output_type = getattr(response_format, "schema", response_format)
        if not isinstance(output_type, type):
            raise ConfigurationError(
                f"{where}: response_format must be a class (pydantic model, dataclass, TypedDict); "
                f"got {output_type!r}"
            )
    approvals: set[str] = set()
    if _HITL in middleware:
        hitl = getattr(_node_func(graph, _HITL), "__self__", None)
        approvals = {name for name, rule in (getattr(hitl, "interrupt_on", None) or {}).items() if rule}
    instructions = _system_text(cells.get("system_message"), where)
    _refuse_builtin_tools([t for t in cells.get("default_tools") or () if not isinstance(t, BaseTool)], where)
    return _Parts(
        chat_model(cells.get("model"), where), instructions, _graph_tools(graph), output_type, approvals
    )


def _names(tools: list[Any]) -> set[str]:
    return {str(getattr(t, "name", "")) for t in tools}


def _refuse_builtin_tools(extra: list[Any], where: str) -> None:
    """Tools given as provider dicts (``{"type": "web_search_preview"}``) run at the model
    provider, which the server calls with its own request: refused rather than dropped."""
    if extra:
        raise ConfigurationError(
            f"{where}: provider built-in tools are not supported yet: "
            f"{', '.join(str(t.get('type') or t) if isinstance(t, dict) else repr(t) for t in extra)}"
        )


def _graph_tools(graph: Any) -> list[Any]:
    if "tools" not in graph.builder.nodes:
        return []
    node = graph.builder.nodes["tools"].runnable
    if not isinstance(node, ToolNode):
        raise ConfigurationError(f"LangGraph graph {graph.name!r}: its 'tools' node is not a ToolNode")
    injected = getattr(node, "_injected_args", {}) or {}
    for name, args in injected.items():
        if getattr(args, "state", None) or getattr(args, "store", None) or getattr(args, "runtime", None):
            raise ConfigurationError(
                f"LangGraph tool {name!r}: InjectedState, InjectedStore and ToolRuntime arguments are not "
                "supported yet (the tool runs as a durable step outside the graph)"
            )
    return list(node.tools_by_name.values())


def _refuse_interrupts(graph: Any, where: str) -> None:
    """``interrupt_before=["tools"]`` (a person reviews every tool call) maps to
    approval-required tools; any other static interrupt has no meaning here."""
    other = [f"interrupt_before={n!r}" for n in graph.interrupt_before_nodes or () if n != "tools"]
    other += [f"interrupt_after={n!r}" for n in graph.interrupt_after_nodes or ()]
    if other:
        raise ConfigurationError(
            f"{where}: {', '.join(other)} is not supported (interrupt_before=['tools'] is: every tool "
            "call waits for approval)"
        )


def _prebuilt_parts(graph: Any) -> _Parts:
    where = f"LangGraph graph {graph.name!r}"
    nodes = set(graph.builder.nodes)
    _refuse_interrupts(graph, where)
    react = _closure(_node_func(graph, "agent")) if "agent" in nodes else {}
    if "static_model" in react:
        hooks = sorted(nodes - _REACT_NODES)
        if hooks:
            raise ConfigurationError(
                f"{where}: {', '.join(hooks)} of create_react_agent is not supported yet"
            )
        return _react_parts(graph, where)
    if "model" in nodes and "system_message" in _closure(_node_func(graph, "model")):
        middleware = sorted(nodes - _CREATE_AGENT_NODES)
        unsupported = [node for node in middleware if node != _HITL]
        if unsupported:
            raise ConfigurationError(
                f"{where}: middleware {', '.join(unsupported)} is not supported yet "
                "(HumanInTheLoopMiddleware is)"
            )
        return _create_agent_parts(graph, where, middleware)
    raise ConfigurationError(f"{where} (nodes: {', '.join(sorted(nodes))}) is not a prebuilt agent")


def _is_prebuilt(graph: Any) -> bool:
    """Built by ``create_react_agent`` or ``create_agent`` (read from its model node's closure)."""
    nodes = set(graph.builder.nodes)
    if "agent" in nodes and "static_model" in _closure(_node_func(graph, "agent")):
        return True
    return "model" in nodes and "system_message" in _closure(_node_func(graph, "model"))


# --------------------------------------------------------------------------- worker functions


def _plain_output(message: Any) -> Any:
    """A tool's result as JSON: a ``ToolMessage``'s content (text, or content blocks)."""
    if isinstance(message, ToolMessage):
        if message.status == "error":
            return {"error": message.content}
        return message.content
    if isinstance(message, BaseMessage):
        return message.content
    if isinstance(message, str | int | float | bool) or message is None:
        return message
    try:
        json.dumps(message)
    except (TypeError, ValueError):
        return str(message)
    return message


def _invoker(item: Any) -> Callable[..., Any]:
    """The worker function of a LangChain tool: the tool's own ``ainvoke`` with a tool call,
    so LangChain validates the arguments, injects ``tool_call_id`` and applies the tool's
    ``handle_tool_error`` as ``ToolNode`` would."""

    async def invoke(context: ToolContext, **arguments: Any) -> Any:
        call_id = context.idempotency_key.removeprefix(f"{context.execution_id}:")
        call = {"name": item.name, "args": arguments, "id": call_id, "type": "tool_call"}
        try:
            result = await item.ainvoke(call)
        except ValidationError as exc:
            # Arguments the tool's schema rejects: ToolNode tells the model; so do we, at
            # once (another attempt would be rejected the same way).
            raise TerminalToolError(f"invalid arguments for tool {item.name!r}: {exc}") from exc
        if type(result).__name__ == "Command":
            raise TerminalToolError(
                f"LangGraph tool {item.name!r} returned a Command: updating graph state from a tool is "
                "not supported yet"
            )
        return _plain_output(result)

    invoke.__name__ = item.name
    invoke.__qualname__ = f"langgraph.{item.name}"
    return invoke


def langchain_tool(item: Any, approvals: set[str]) -> ToolDef:
    if not isinstance(item, BaseTool):
        raise ConfigurationError(f"LangGraph tool {item!r} is not a LangChain tool")
    schema = convert_to_openai_tool(item)["function"]
    definition = ToolDef(
        name=item.name,
        description=schema.get("description") or item.description or "",
        input_schema=dict(schema.get("parameters") or {"type": "object", "properties": {}}),
        func=_invoker(item),
    )
    definition.approval_required = item.name in approvals
    return definition


# --------------------------------------------------------------------------- entry point


def is_graph(obj: Any) -> bool:
    return isinstance(obj, CompiledStateGraph)


async def to_agent(source: Any, *, context: Any = None, serving: bool = False) -> Agent:
    """The native :class:`Agent` for a compiled LangGraph graph ``source``: a prebuilt
    agent is extracted (model and tools); any other graph runs as a durable graph, one
    superstep per durable step (``langgraph_graph.py``).

    Refused with a :class:`ConfigurationError`: a prebuilt agent compiled with a
    checkpointer (the run's history is kept by Agentspan; a checkpointer of yours would be
    bypassed) or given a run ``context``. ``serving`` changes nothing here.
    """
    if not isinstance(source, CompiledStateGraph):
        raise ConfigurationError(
            f"{type(source).__name__}: only compiled LangGraph StateGraphs run on Agentspan (docs/frameworks.md)"
        )
    if not _is_prebuilt(source):
        from agentspan.frameworks.langgraph_graph import graph_agent

        return graph_agent(source, context)
    if context is not None:
        raise ConfigurationError(
            f"LangGraph graph {source.name!r}: a run context is not supported for prebuilt agents yet"
        )
    if source.checkpointer not in (None, False):
        raise ConfigurationError(
            f"LangGraph graph {source.name!r} was compiled with a checkpointer: Agentspan records the run "
            "itself and would not use yours; compile the graph without one (pass session_id= to run() "
            "for conversation memory)"
        )
    parts = _prebuilt_parts(source)
    if "tools" in (source.interrupt_before_nodes or ()):
        parts.approvals |= _names(parts.tools)
    unknown = parts.approvals - {getattr(t, "name", "") for t in parts.tools}
    if unknown:
        raise ConfigurationError(
            f"LangGraph graph {source.name!r}: HumanInTheLoopMiddleware names unknown tools: "
            f"{', '.join(sorted(unknown))}"
        )
    return Agent(
        name=native_name(source.name),
        instructions=parts.instructions,
        tools=[langchain_tool(t, parts.approvals) for t in parts.tools],
        output_type=parts.output_type,
        **native_model(parts.model),
    )
