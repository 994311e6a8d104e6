"""The engine: a pure decision function over execution state (no I/O, no clock)."""

from agentspan.server.engine.loop import decide
from agentspan.server.engine.model import (
    Command,
    Decision,
    EventDraft,
    ExecState,
    Input,
)

__all__ = ["Command", "Decision", "EventDraft", "ExecState", "Input", "decide"]
