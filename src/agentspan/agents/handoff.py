"""Handoff conditions: when one agent of a ``strategy="swarm"`` team hands over to another.

``OnToolResult`` and ``OnTextMention`` are evaluated by the server from their wire form.
``OnCondition`` runs a Python predicate: the runtime serves it as the worker task
``<agent>_handoff_<target>``, named after the agent that owns the handoff.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["HandoffCondition", "OnCondition", "OnTextMention", "OnToolResult"]

log = logging.getLogger("agentspan.agents")


@dataclasses.dataclass
class HandoffCondition:
    """Hand control to the agent named ``target`` when :meth:`should_handoff` is true."""

    target: str

    def should_handoff(self, context: dict[str, Any]) -> bool:
        """Whether to hand over, given the turn's context; the base never does."""
        return False


@dataclasses.dataclass
class OnToolResult(HandoffCondition):
    """Hand over after a call of tool ``tool_name`` (whose result contains ``result_contains``).

    Context keys: ``tool_name`` and ``tool_result``.
    """

    tool_name: str = ""
    result_contains: str | None = None

    def should_handoff(self, context: dict[str, Any]) -> bool:
        if context.get("tool_name") != self.tool_name:
            return False
        if self.result_contains is None:
            return True
        return self.result_contains in str(context.get("tool_result", ""))

    def to_config(self) -> dict[str, Any]:
        """The wire form the server evaluates."""
        config: dict[str, Any] = {"target": self.target, "type": "on_tool_result", "toolName": self.tool_name}
        if self.result_contains is not None:
            config["resultContains"] = self.result_contains
        return config


@dataclasses.dataclass
class OnTextMention(HandoffCondition):
    """Hand over when the agent's latest text (``result``) mentions ``text``, ignoring case."""

    text: str = ""

    def should_handoff(self, context: dict[str, Any]) -> bool:
        result = context.get("result")
        return self.text.lower() in ("" if result is None else str(result)).lower()

    def to_config(self) -> dict[str, Any]:
        """The wire form the server evaluates."""
        return {"target": self.target, "type": "on_text_mention", "text": self.text}


def _never(context: dict[str, Any]) -> bool:
    return False


@dataclasses.dataclass
class OnCondition(HandoffCondition):
    """Hand over when ``condition(context)`` is truthy; an exception counts as false.

    The predicate runs in this process as the worker task ``<agent>_handoff_<target>``
    and receives ``{"result", "active_agent", "messages"}``.
    """

    # No to_config(): the wire form names the owning agent's task, which only the
    # serialiser knows; it builds {"target", "type": "on_condition", "taskName"} itself.
    condition: Callable[[dict[str, Any]], Any] = _never

    def should_handoff(self, context: dict[str, Any]) -> bool:
        try:
            return bool(self.condition(context))
        except Exception:  # noqa: BLE001 - a failing predicate must not break the swarm
            log.exception("handoff condition to %r raised; not handing over", self.target)
            return False
