"""Agentspan: a durable runtime for AI agents.

The public API lives in :mod:`agentspan.agents`.
"""

__version__ = "0.1.0"
