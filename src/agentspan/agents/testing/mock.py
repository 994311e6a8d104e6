"""``agentspan.agents.testing.mock``: scripted runs without a server (``mock_run``, ``MockEvent``)."""

from agentspan.agents.testing._mock import MockEvent, mock_run

__all__ = ["MockEvent", "mock_run"]
