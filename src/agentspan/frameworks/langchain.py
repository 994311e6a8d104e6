"""LangChain ``AgentExecutor`` (``langchain_classic.agents``) tool-calling agents on the native
engine.

:func:`to_agent` reads an ``AgentExecutor`` whose agent was built by
``create_tool_calling_agent`` / ``create_openai_tools_agent`` (a runnable sequence: inputs,
a ``ChatPromptTemplate``, a chat model with tools bound, a tool-calls output parser) and
returns a native :class:`~agentspan.agents.Agent`: the chat model becomes the server-side
model, the prompt's fixed system messages the instructions, the executor's tools durable
worker tools (the same worker functions as for LangGraph's prebuilt agents) and
``max_iterations`` the agent's ``max_turns``. Whatever else the prompt or executor needs is
refused by name (text-parsing ReAct agents, prompt variables other than ``input``, ...).
"""

from __future__ import annotations

import logging
from typing import Any

from agentspan._core.errors import ConfigurationError
from agentspan.agents._agent import Agent
from agentspan.frameworks.langgraph import chat_model, langchain_tool, native_model, native_name

try:
    from langchain_core.prompts import (
        ChatPromptTemplate,
        HumanMessagePromptTemplate,
        MessagesPlaceholder,
        SystemMessagePromptTemplate,
    )
    from langchain_core.runnables import RunnableSequence
except ImportError as exc:  # pragma: no cover - exercised in a process without the package
    raise ImportError(
        "running LangChain agents needs the langchain packages: pip install 'agentspan[langchain]'"
    ) from exc

__all__ = ["to_agent"]

log = logging.getLogger("agentspan.frameworks")

# Output parsers of the tool-calling agent constructors: the model's tool calls are the actions.
_TOOL_PARSERS = {"ToolsAgentOutputParser", "OpenAIToolsAgentOutputParser", "OpenAIFunctionsAgentOutputParser"}
# Executor options that change nothing the native agent does differently; the others are logged.
_IGNORED: dict[str, Any] = {
    "return_intermediate_steps": False,
    "early_stopping_method": "force",
    "max_execution_time": None,
    "trim_intermediate_steps": -1,
}


def _passes_through(message: Any) -> bool:
    """The user's input, the tool-call scratchpad, and optional history: the native agent's
    own conversation fills those parts."""
    if isinstance(message, HumanMessagePromptTemplate):
        return bool(message.input_variables == ["input"])
    if isinstance(message, MessagesPlaceholder):
        return message.variable_name == "agent_scratchpad" or bool(message.optional)
    return False


def _instructions(prompt: Any, where: str) -> str:
    """The prompt's fixed system messages; ``{input}`` must be the human message and
    ``agent_scratchpad`` (and optional placeholders such as ``chat_history``) the rest."""
    system: list[str] = []
    for message in prompt.messages:
        if isinstance(message, SystemMessagePromptTemplate) and not message.input_variables:
            # No variables: formatting gives the fixed text, with LangChain's own escaping.
            text = message.format().content
            if not isinstance(text, str):
                raise ConfigurationError(
                    f"{where}: a system message that is not plain text is not supported yet"
                )
            system.append(text)
        elif not _passes_through(message):
            raise ConfigurationError(
                f"{where}: prompt message {type(message).__name__} with variables "
                f"{getattr(message, 'input_variables', None) or getattr(message, 'variable_name', '?')} is "
                "not supported yet (fixed system messages, '{input}' and placeholders only)"
            )
    return "\n\n".join(system)


def _parts(executor: Any, where: str) -> tuple[Any, str]:
    runnable = getattr(executor.agent, "runnable", None)
    if not isinstance(runnable, RunnableSequence):
        raise ConfigurationError(
            f"{where}: agent {type(executor.agent).__name__} is not supported yet; only tool-calling "
            "agents (create_tool_calling_agent, create_openai_tools_agent) are"
        )
    parser = type(runnable.last).__name__
    if parser not in _TOOL_PARSERS:
        raise ConfigurationError(
            f"{where}: an agent whose output is parsed by {parser} (e.g. a text ReAct agent) is not "
            "supported yet; only tool-calling agents (create_tool_calling_agent) are"
        )
    prompts = [step for step in runnable.steps if isinstance(step, ChatPromptTemplate)]
    if len(prompts) != 1 or len(runnable.steps) < 3:
        raise ConfigurationError(f"{where}: the agent's runnable is not a prompt | model | parser sequence")
    model = chat_model(runnable.steps[runnable.steps.index(prompts[0]) + 1], where)
    return model, _instructions(prompts[0], where)


async def to_agent(source: Any, *, context: Any = None, serving: bool = False) -> Agent:
    """The native :class:`Agent` for a LangChain ``AgentExecutor`` of a tool-calling agent."""
    where = f"LangChain AgentExecutor {getattr(source, 'name', None) or ''!s}".rstrip()
    if context is not None:
        raise ConfigurationError(f"{where}: a run context is not supported for LangChain agents yet")
    model, instructions = _parts(source, where)
    if getattr(source, "memory", None) is not None:
        raise ConfigurationError(
            f"{where}: executor memory is not supported; pass session_id= to run() for conversation memory"
        )
    set_options = [name for name, default in _IGNORED.items() if getattr(source, name, default) != default]
    if set_options:
        log.warning("%s: ignoring %s (no Agentspan equivalent yet)", where, ", ".join(set_options))
    max_turns = getattr(source, "max_iterations", None)
    return Agent(
        name=native_name(getattr(source, "name", None) or "langchain_agent"),
        instructions=instructions,
        tools=[langchain_tool(t, set()) for t in source.tools],
        max_turns=max_turns if isinstance(max_turns, int) and max_turns > 0 else 15,
        **native_model(model),
    )
