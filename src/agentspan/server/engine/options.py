"""Agent options the server cannot honour yet: a start that uses one is refused (400
``invalid_agent`` naming the agent and the option) rather than run without it.

One entry per option; an entry goes when the feature it names is built.
"""

from __future__ import annotations

from collections.abc import Callable

from agentspan.protocol.spec import AgentConfig

Unhonoured = tuple[str, Callable[[AgentConfig], bool], str]

UNHONOURED: tuple[Unhonoured, ...] = (
    (
        "memory",
        lambda spec: (
            spec.memory is not None
            and spec.memory.kind == "semantic"
            and spec.memory.messages is None
            and spec.memory.namespace is None
        ),
        "semantic memory in an SDK-side store is searched by the SDK for the prompt of the agent "
        "that is run only; for a sub-agent keep it on the server (SemanticMemory(store=ServerMemoryStore(...)))",
    ),
)


def unhonoured(spec: AgentConfig) -> list[tuple[str, str]]:
    """``(option, why)`` for each option of ``spec`` itself (not its sub-agents) that
    this server would otherwise silently ignore."""
    return [(option, why) for option, used, why in UNHONOURED if used(spec)]
