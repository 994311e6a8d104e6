"""Credentials an agent or a run makes available to its tools (names only).

``Agent(credentials=[...])`` lists names in the agent's spec: every tool of that agent
may use them. ``run(..., credentials=[...])`` lists names in the start request: they are
kept in the root execution's stored input (``"credentials"``), copied to each child
execution's, and every tool of the run may use them. A worker's task carries the union
as ``context.credentials`` (names, never values); the worker fetches the values with the
call's lease (``service/credentials.py::for_task``), which gives only names the tool, its
agent or its run declares. Server-side tools may use them in ``${NAME}`` placeholders.
"""

from __future__ import annotations

import json

from agentspan.protocol.spec import AgentConfig
from agentspan.server.store.base import ExecutionRow

_KEY = '"credentials"'


def run_credentials(row: ExecutionRow) -> list[str]:
    """The names the run was started with (``run(credentials=...)``), from the stored input."""
    if _KEY not in row.input:  # most runs have none: skip parsing the prompt
        return []
    names = json.loads(row.input).get("credentials") or []
    return [str(name) for name in names]


def available_to_tools(spec: AgentConfig, row: ExecutionRow) -> list[str]:
    """The names every tool of this execution may receive besides its own: the agent's
    and the run's, each once, in order."""
    return list(dict.fromkeys([*(spec.credentials or ()), *run_credentials(row)]))
