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

from agentspan._core.errors import ConfigurationError
from agentspan.protocol.spec import HandoffSpec, OnConditionSpec, OnTextMentionSpec, OnToolResultSpec

__all__ = ["HandoffCondition", "OnCondition", "OnTextMention", "OnToolResult"]

log = logging.getLogger("agentspan.agents")


@dataclasses.dataclass
class HandoffCondition:
    """Hand control to the agent named ``target`` when :meth:`should_handoff` is true."""

    target: str

    def should_handoff(self, context: dict[str, Any]) -> bool:
        """Whether to hand over, given the turn's context; the base never does."""
        return False

    def to_spec(self, owner: str) -> HandoffSpec:
        """The typed wire form, for a handoff declared on the agent named ``owner``."""
        raise ConfigurationError(
            f"handoff {self!r} cannot be evaluated by the server: use OnToolResult, OnTextMention "
            "or OnCondition"
        )


@dataclasses.dataclass
class OnToolResult(HandoffCondition):
    """Hand over after a call of tool ``tool_name`` (whose result contains ``result_contains``).

    Context keys: ``tool_name`` and ``tool_result``.
    """

    tool_name: str = ""
    result_contains: str | None = None

    def should_handoff(self, context: dict[str, Any]) -> bool:
        if not isinstance(context, dict) or context.get("tool_name") != self.tool_name:
            return False
        if self.result_contains is None:
            return True
        return self.result_contains in str(context.get("tool_result", ""))

    def to_spec(self, owner: str = "") -> OnToolResultSpec:
        return OnToolResultSpec(
            target=self.target,
            type="on_tool_result",
            tool_name=self.tool_name,
            result_contains=self.result_contains,
        )

    def to_config(self) -> dict[str, Any]:
        """The wire form the server evaluates."""
        return self.to_spec().wire()


@dataclasses.dataclass
class OnTextMention(HandoffCondition):
    """Hand over when the agent's latest text (``result``) mentions ``text``, ignoring case."""

    text: str = ""

    def should_handoff(self, context: dict[str, Any]) -> bool:
        result = context.get("result") if isinstance(context, dict) else None
        return self.text.lower() in ("" if result is None else str(result)).lower()

    def to_spec(self, owner: str = "") -> OnTextMentionSpec:
        return OnTextMentionSpec(target=self.target, type="on_text_mention", text=self.text)

    def to_config(self) -> dict[str, Any]:
        """The wire form the server evaluates."""
        return self.to_spec().wire()


def _never(context: dict[str, Any]) -> bool:
    return False


@dataclasses.dataclass
class OnCondition(HandoffCondition):
    """Hand over when ``condition(context)`` is truthy; an exception counts as false.

    The predicate runs in this process as the worker task ``<agent>_handoff_<target>``
    and receives ``{"result", "active_agent", "messages"}``.
    """

    condition: Callable[[dict[str, Any]], Any] = _never

    def to_spec(self, owner: str) -> OnConditionSpec:
        # No to_config(): the task is named after the owning agent, which only the
        # serialiser knows.
        return OnConditionSpec(
            target=self.target, type="on_condition", task_name=f"{owner}_handoff_{self.target}"
        )

    def should_handoff(self, context: dict[str, Any]) -> bool:
        try:
            return bool(self.condition(context))
        except Exception:  # noqa: BLE001 - a failing predicate must not break the swarm
            log.exception("handoff condition to %r raised; not handing over", self.target)
            return False
