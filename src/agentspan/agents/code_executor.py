"""Code execution sandboxes: run model-written code and report what it printed.

Four executors, one interface (:class:`CodeExecutor`, :meth:`CodeExecutor.as_tool`):

* :class:`LocalCodeExecutor` - a local interpreter in a limited child process;
* :class:`DockerCodeExecutor` - a throwaway container through the ``docker`` CLI;
* :class:`JupyterCodeExecutor` - a live Jupyter kernel (state persists across calls);
* :class:`ServerlessCodeExecutor` - an HTTP endpoint that runs the code elsewhere.

What each isolates, and what it does not: ``docs/sandboxes.md``.
"""

from agentspan.agents._sandbox.base import CodeExecutor, ExecutionResult
from agentspan.agents._sandbox.docker import DockerCodeExecutor
from agentspan.agents._sandbox.jupyter import JupyterCodeExecutor
from agentspan.agents._sandbox.local import LocalCodeExecutor
from agentspan.agents._sandbox.process import ResourceLimits
from agentspan.agents._sandbox.serverless import ServerlessCodeExecutor

__all__ = [
    "CodeExecutor",
    "DockerCodeExecutor",
    "ExecutionResult",
    "JupyterCodeExecutor",
    "LocalCodeExecutor",
    "ResourceLimits",
    "ServerlessCodeExecutor",
]
