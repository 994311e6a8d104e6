"""Agents written with other frameworks, run durably by the native engine.

Each framework has its own adapter module here, imported only when an object of that
framework is passed to ``run`` / ``start`` / ``stream`` / ``serve`` (so this package and
``agentspan.agents`` never import a framework that is not used). An adapter turns the
framework's objects into a native :class:`~agentspan.agents.Agent` (the typed spec) whose
tools are worker functions calling the framework's own code in this process; nothing is
pickled. See docs/frameworks.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INSTALL_HINTS", "detect_framework", "to_native_agent"]

# The top-level module each framework's objects come from, and the extra that installs it.
_MODULES = {
    "agents": "openai_agents",
    "langgraph": "langgraph",
    "langchain": "langchain",
    "langchain_classic": "langchain",
}
INSTALL_HINTS = {
    "openai_agents": "pip install 'agentspan[openai-agents]'",
    "langgraph": "pip install 'agentspan[langgraph]'",
    "langchain": "pip install 'agentspan[langchain]'",
    "google_adk": "pip install 'agentspan[google-adk]'",
}


def detect_framework(obj: Any) -> str | None:
    """The framework ``obj`` belongs to (``"openai_agents"``, ``"langgraph"``,
    ``"langchain"``, ``"google_adk"``), or ``None``.

    Decided from the module of the object's class alone, so nothing is imported.
    """
    module = getattr(type(obj), "__module__", "") or ""
    if module == "google.adk" or module.startswith("google.adk."):
        return "google_adk"  # "google" alone is a namespace shared by many packages
    return _MODULES.get(module.split(".", 1)[0])


async def to_native_agent(obj: Any, *, context: Any = None, serving: bool = False, **options: Any) -> Any:
    """The native ``Agent`` for a framework object (``obj`` itself when it is not one).

    ``context`` is the run's context (the framework's dependency-injection object; here a
    JSON object, the run's durable shared state); ``serving=True`` converts for
    ``serve()``, where no run is being started. ``options`` go to the adapter (the
    OpenAI adapter takes ``max_turns`` and ``run_config``).
    """
    framework = detect_framework(obj)
    if framework == "openai_agents" and _is_openai_agent(obj):
        from agentspan.frameworks import openai_agents

        return await openai_agents.to_agent(obj, context=context, serving=serving, **options)
    if framework == "langgraph" and type(obj).__name__ == "CompiledStateGraph":
        # langchain.agents.create_agent builds a LangGraph graph too: one adapter for both.
        from agentspan.frameworks import langgraph

        return await langgraph.to_agent(obj, context=context, serving=serving)
    if framework == "langchain" and type(obj).__name__ == "AgentExecutor":
        from agentspan.frameworks import langchain

        return await langchain.to_agent(obj, context=context, serving=serving)
    if framework == "google_adk" and _is_adk_agent(obj):
        from agentspan.frameworks import google_adk

        return google_adk.to_agent(obj, context=context, serving=serving)
    return obj


def _is_openai_agent(obj: Any) -> bool:
    # Only the Agent class (and subclasses) of the openai-agents package is an entry point;
    # its tools and guardrails are read through the agent.
    return any(
        klass.__name__ == "Agent" and klass.__module__.startswith("agents.") for klass in type(obj).__mro__
    )


def _is_adk_agent(obj: Any) -> bool:
    # Any ADK agent (LlmAgent, SequentialAgent, ...) is an entry point: all derive BaseAgent.
    return any(
        klass.__name__ == "BaseAgent" and klass.__module__.startswith("google.adk.")
        for klass in type(obj).__mro__
    )
