"""Pytest plugin for ``agentspan.agents.testing``, loaded through the ``pytest11`` entry point.

It registers the ``agent_correctness`` and ``semantic`` markers (so ``--strict-markers``
accepts them) and the fixtures ``mock_agent_run`` (:func:`mock_run`) and ``event``
(:class:`MockEvent`). Without the installed entry point, load it with
``-p agentspan.agents.testing.pytest_plugin``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentspan.agents._result import AgentResult
from agentspan.agents.testing import MockEvent, mock_run

__all__ = ["event", "mock_agent_run", "pytest_configure"]

MARKERS = (
    "agent_correctness: checks an agent's behaviour (tools used, handoffs, output) on a prompt",
    "semantic: judges an agent's output by meaning, usually with a model (slow, may need a key)",
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)


@pytest.fixture
def mock_agent_run() -> Callable[..., AgentResult]:
    """:func:`agentspan.agents.testing.mock_run`, to script a run in a test."""
    return mock_run


@pytest.fixture
def event() -> type[MockEvent]:
    """:class:`agentspan.agents.testing.MockEvent`, the factories for scripted events."""
    return MockEvent
