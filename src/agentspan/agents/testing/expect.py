"""``agentspan.agents.testing.expect``: fluent checks of a result (``expect(result)``)."""

from agentspan.agents.testing._expect import AgentResultExpectation, expect

__all__ = ["AgentResultExpectation", "expect"]
