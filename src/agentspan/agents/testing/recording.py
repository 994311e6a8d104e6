"""``agentspan.agents.testing.recording``: save a result to JSON and load it back."""

from agentspan.agents.testing._record import record, replay

__all__ = ["record", "replay"]
