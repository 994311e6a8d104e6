"""``agentspan.agents.run``: the module-level API over one default ``AgentRuntime`` (the
reference's module path). ``agentspan.agents.run`` itself stays the ``run`` function: the
package imports this module before binding that name."""

from agentspan.agents._run import (
    configure,
    deploy,
    deploy_async,
    plan,
    resume,
    resume_async,
    run,
    run_async,
    serve,
    shutdown,
    start,
    start_async,
    stream,
    stream_async,
)

__all__ = [
    "configure",
    "deploy",
    "deploy_async",
    "plan",
    "resume",
    "resume_async",
    "run",
    "run_async",
    "serve",
    "shutdown",
    "start",
    "start_async",
    "stream",
    "stream_async",
]
