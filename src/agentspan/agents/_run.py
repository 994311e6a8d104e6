"""Module-level convenience API over one lazily created default ``AgentRuntime``."""

from __future__ import annotations

import atexit
import dataclasses
import threading
from typing import Any

from agentspan.agents._config import AgentConfig
from agentspan.agents._handle import AgentHandle
from agentspan.agents._result import AgentResult, DeploymentInfo
from agentspan.agents._runtime import AgentLike, AgentRuntime
from agentspan.agents._stream import AgentStream, AsyncAgentStream

_lock = threading.Lock()
_default: AgentRuntime | None = None
_config: AgentConfig | None = None


def configure(config: AgentConfig | None = None, **kwargs: Any) -> None:
    """Set the default runtime's configuration (before it is first used)."""
    global _config
    with _lock:
        if _default is not None:
            raise RuntimeError(
                "configure() must be called before the default runtime is used (or after shutdown())"
            )
        unknown = set(kwargs) - AgentConfig.field_names()
        if unknown:
            raise TypeError(f"unknown AgentConfig field(s): {', '.join(sorted(unknown))}")
        # replace() re-runs __post_init__, so server_url is normalised here too.
        _config = dataclasses.replace(config or AgentConfig.from_env(), **kwargs)


def _runtime(explicit: AgentRuntime | None) -> AgentRuntime:
    global _default
    if explicit is not None:
        return explicit
    with _lock:
        if _default is None:
            _default = AgentRuntime(config=_config)
        return _default


def shutdown() -> None:
    """Stop the default runtime (its configuration is kept)."""
    global _default
    with _lock:
        runtime, _default = _default, None
    if runtime is not None:
        runtime.shutdown()


atexit.register(shutdown)


def run(
    agent: AgentLike, prompt: str | None = None, *, runtime: AgentRuntime | None = None, **kwargs: Any
) -> AgentResult:
    return _runtime(runtime).run(agent, prompt, **kwargs)


async def run_async(
    agent: AgentLike, prompt: str | None = None, *, runtime: AgentRuntime | None = None, **kwargs: Any
) -> AgentResult:
    return await _runtime(runtime).run_async(agent, prompt, **kwargs)


def start(
    agent: AgentLike, prompt: str | None = None, *, runtime: AgentRuntime | None = None, **kwargs: Any
) -> AgentHandle:
    return _runtime(runtime).start(agent, prompt, **kwargs)


async def start_async(
    agent: AgentLike, prompt: str | None = None, *, runtime: AgentRuntime | None = None, **kwargs: Any
) -> AgentHandle:
    return await _runtime(runtime).start_async(agent, prompt, **kwargs)


def stream(
    agent: AgentLike | None = None,
    prompt: str | None = None,
    *,
    handle: AgentHandle | None = None,
    runtime: AgentRuntime | None = None,
    **kwargs: Any,
) -> AgentStream:
    return _runtime(runtime).stream(agent, prompt, handle=handle, **kwargs)


async def stream_async(
    agent: AgentLike | None = None,
    prompt: str | None = None,
    *,
    handle: AgentHandle | None = None,
    runtime: AgentRuntime | None = None,
    **kwargs: Any,
) -> AsyncAgentStream:
    return await _runtime(runtime).stream_async(agent, prompt, handle=handle, **kwargs)


def serve(
    *agents: AgentLike,
    packages: list[str] | None = None,
    blocking: bool = True,
    runtime: AgentRuntime | None = None,
) -> None:
    _runtime(runtime).serve(*agents, packages=packages, blocking=blocking)


def deploy(
    *agents: AgentLike, packages: list[str] | None = None, runtime: AgentRuntime | None = None
) -> list[DeploymentInfo]:
    return _runtime(runtime).deploy(*agents, packages=packages)


async def deploy_async(
    *agents: AgentLike, packages: list[str] | None = None, runtime: AgentRuntime | None = None
) -> list[DeploymentInfo]:
    return await _runtime(runtime).deploy_async(*agents, packages=packages)


def plan(agent: AgentLike, *, runtime: AgentRuntime | None = None) -> dict[str, Any]:
    return _runtime(runtime).plan(agent)


def resume(execution_id: str, agent: AgentLike, *, runtime: AgentRuntime | None = None, **kwargs: Any) -> Any:
    """Re-attach to ``execution_id`` (serve ``agent``'s tools here) and return its handle."""
    return _runtime(runtime).resume(execution_id, agent, **kwargs)


async def resume_async(
    execution_id: str, agent: AgentLike, *, runtime: AgentRuntime | None = None, **kwargs: Any
) -> Any:
    return await _runtime(runtime).resume_async(execution_id, agent, **kwargs)
