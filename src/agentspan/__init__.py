"""Agentspan: a durable runtime for AI agents.

The public API lives in :mod:`agentspan.agents`. ``Runner``, ``RunResult`` (a drop-in
for the OpenAI Agents SDK's runner, :mod:`agentspan.agents.openai_compat`) and
``function_tool`` (``agentspan.agents.tool``) are importable from here too; they load on
first use, so ``import agentspan`` stays light.
"""

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Runner": ("agentspan.agents", "Runner"),
    "RunResult": ("agentspan.agents", "RunResult"),
    "function_tool": ("agentspan.agents", "tool"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'agentspan' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    return getattr(importlib.import_module(module), attribute)
