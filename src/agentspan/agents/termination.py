"""Termination conditions: declarative rules that end an agent's loop.

A condition is sent to the server as data (``to_config()``) and evaluated there after
each turn; ``should_terminate`` implements the same rule in Python, for tests and mock
runs. Conditions compose: ``a & b`` stops when both trigger, ``a | b`` when either does.

``to_spec()`` is the typed wire form; ``to_config()`` the same as a dict.

The evaluation context has the keys ``result`` (the latest model text), ``messages``
(the conversation so far), ``iteration`` (turns completed) and ``token_usage`` (a dict
with ``prompt_tokens``, ``completion_tokens`` and ``total_tokens``).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from agentspan._core.errors import ConfigurationError
from agentspan.protocol.spec import (
    CombinedSpec,
    MaxMessageSpec,
    StopMessageSpec,
    TerminationSpec,
    TextMentionSpec,
    TokenUsageSpec,
)

__all__ = [
    "MaxMessageTermination",
    "StopMessageTermination",
    "TerminationCondition",
    "TerminationResult",
    "TextMentionTermination",
    "TokenUsageTermination",
]


_TERMINATION: TypeAdapter[TerminationSpec] = TypeAdapter(TerminationSpec)


@dataclasses.dataclass(frozen=True)
class TerminationResult:
    """Whether a condition triggered and, if it did, why."""

    should_terminate: bool
    reason: str = ""


# Malformed input (a context that is no dict, messages that are no list, counts that are
# no numbers) never raises: the condition simply does not trigger, as the reference's do.
def _context(context: Any) -> Mapping[str, Any]:
    return context if isinstance(context, Mapping) else {}


def _result_text(context: Any) -> str:
    value = _context(context).get("result")
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            return float(value) if isinstance(value, str) else None
        except ValueError:
            return None
    return float(value)


def _message_count(context: Any) -> int:
    messages = _context(context).get("messages")
    if isinstance(messages, list | tuple) and messages:
        return len(messages)
    return int(_number(_context(context).get("iteration")) or 0)


class TerminationCondition(abc.ABC):
    """A rule deciding when an agent's loop stops; combine rules with ``&`` and ``|``.

    Subclasses implement :meth:`should_terminate` and :meth:`to_config`. Only the built-in
    conditions can be evaluated by the server; for custom Python logic use
    ``Agent(stop_when=...)``.
    """

    @abc.abstractmethod
    def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
        """Evaluate the condition against one turn's context."""

    def to_spec(self) -> TerminationSpec:
        """The typed wire form the server evaluates; a subclass that only overrides
        :meth:`to_config` is read from that dict."""
        try:
            return _TERMINATION.validate_python(self.to_config())
        except ValidationError as exc:
            raise ConfigurationError(
                f"termination condition {self!r}: to_config() is not valid: {exc}"
            ) from exc

    def to_config(self) -> dict[str, Any]:
        """The wire form the server evaluates, as a dict."""
        if type(self).to_spec is not TerminationCondition.to_spec:
            return self.to_spec().wire()
        raise ConfigurationError(
            f"termination condition {type(self).__name__} cannot be evaluated by the server: "
            "combine the built-in conditions, or use Agent(stop_when=<function>) for custom logic"
        )

    def __and__(self, other: TerminationCondition) -> TerminationCondition:
        if not isinstance(other, TerminationCondition):
            return NotImplemented
        return _AndTermination(*_flatten(_AndTermination, self, other))

    def __or__(self, other: TerminationCondition) -> TerminationCondition:
        if not isinstance(other, TerminationCondition):
            return NotImplemented
        return _OrTermination(*_flatten(_OrTermination, self, other))


def _flatten(kind: type[_Combined], *parts: TerminationCondition) -> list[TerminationCondition]:
    """``(a & b) & c`` becomes one AND of three; an OR inside an AND stays nested."""
    flat: list[TerminationCondition] = []
    for part in parts:
        if type(part) is kind:
            flat.extend(part.conditions)
        else:
            flat.append(part)
    return flat


class TextMentionTermination(TerminationCondition):
    """Stop when the latest model text contains ``text`` (case-insensitive by default)."""

    def __init__(self, text: str, *, case_sensitive: bool = False) -> None:
        self.text = text
        self.case_sensitive = case_sensitive

    def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
        haystack, needle = _result_text(context), self.text
        if not self.case_sensitive:
            haystack, needle = haystack.lower(), needle.lower()
        if needle in haystack:
            return TerminationResult(True, f"text {self.text!r} mentioned")
        return TerminationResult(False)

    def to_spec(self) -> TextMentionSpec:
        return TextMentionSpec(type="text_mention", text=self.text, case_sensitive=self.case_sensitive)

    def __repr__(self) -> str:
        return f"TextMentionTermination({self.text!r}, case_sensitive={self.case_sensitive})"


class StopMessageTermination(TerminationCondition):
    """Stop when the latest model text, stripped, is exactly ``stop_message``."""

    def __init__(self, stop_message: str = "TERMINATE") -> None:
        self.stop_message = stop_message

    def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
        if _result_text(context).strip() == self.stop_message:
            return TerminationResult(True, f"stop message {self.stop_message!r} received")
        return TerminationResult(False)

    def to_spec(self) -> StopMessageSpec:
        return StopMessageSpec(type="stop_message", stop_message=self.stop_message)

    def __repr__(self) -> str:
        return f"StopMessageTermination({self.stop_message!r})"


class MaxMessageTermination(TerminationCondition):
    """Stop once the conversation has ``max_messages`` messages.

    The count is ``len(messages)``, or ``iteration`` when no messages are given.
    """

    def __init__(self, max_messages: int) -> None:
        if isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1:
            raise ValueError(f"max_messages must be an integer >= 1, got {max_messages!r}")
        self.max_messages = max_messages

    def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
        count = _message_count(context)
        if count >= self.max_messages:
            return TerminationResult(True, f"reached {count} messages (limit {self.max_messages})")
        return TerminationResult(False)

    def to_spec(self) -> MaxMessageSpec:
        return MaxMessageSpec(type="max_message", max_messages=self.max_messages)

    def __repr__(self) -> str:
        return f"MaxMessageTermination({self.max_messages})"


# (attribute, token_usage key, wire key, label)
_TOKEN_LIMITS = (
    ("max_total_tokens", "total_tokens", "maxTotalTokens", "total"),
    ("max_prompt_tokens", "prompt_tokens", "maxPromptTokens", "prompt"),
    ("max_completion_tokens", "completion_tokens", "maxCompletionTokens", "completion"),
)


class TokenUsageTermination(TerminationCondition):
    """Stop once the execution's token usage reaches any of the given limits."""

    def __init__(
        self,
        max_total_tokens: int | None = None,
        max_prompt_tokens: int | None = None,
        max_completion_tokens: int | None = None,
    ) -> None:
        if max_total_tokens is None and max_prompt_tokens is None and max_completion_tokens is None:
            raise ValueError(
                "TokenUsageTermination needs at least one of max_total_tokens, "
                "max_prompt_tokens or max_completion_tokens"
            )
        self.max_total_tokens = max_total_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self.max_completion_tokens = max_completion_tokens

    def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
        usage = _context(_context(context).get("token_usage"))
        for attribute, key, _, label in _TOKEN_LIMITS:
            limit = getattr(self, attribute)
            used = _number(usage.get(key))
            if limit is not None and used is not None and used >= limit:
                return TerminationResult(True, f"{label} tokens {used:g} reached the limit of {limit}")
        return TerminationResult(False)

    def to_spec(self) -> TokenUsageSpec:
        return TokenUsageSpec(
            type="token_usage",
            max_total_tokens=self.max_total_tokens,
            max_prompt_tokens=self.max_prompt_tokens,
            max_completion_tokens=self.max_completion_tokens,
        )

    def __repr__(self) -> str:
        limits = ", ".join(
            f"{attribute}={getattr(self, attribute)}"
            for attribute, *_ in _TOKEN_LIMITS
            if getattr(self, attribute) is not None
        )
        return f"TokenUsageTermination({limits})"


class _Combined(TerminationCondition):
    """Shared parts of the AND and OR combinators."""

    _kind: Literal["and", "or"] = "and"

    def __init__(self, *conditions: TerminationCondition) -> None:
        self.conditions: list[TerminationCondition] = list(conditions)

    def to_spec(self) -> CombinedSpec:
        return CombinedSpec(type=self._kind, conditions=[c.to_spec() for c in self.conditions])

    def __repr__(self) -> str:
        joiner = " & " if self._kind == "and" else " | "
        return "(" + joiner.join(repr(c) for c in self.conditions) + ")"


class _AndTermination(_Combined):
    """Triggers when every condition triggers; the reasons are joined with `` AND ``."""

    _kind = "and"

    def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
        reasons: list[str] = []
        for condition in self.conditions:
            outcome = condition.should_terminate(context)
            if not outcome.should_terminate:
                return TerminationResult(False)
            reasons.append(outcome.reason)
        return TerminationResult(True, " AND ".join(r for r in reasons if r))


class _OrTermination(_Combined):
    """Triggers when any condition triggers, with the first triggering one's reason."""

    _kind = "or"

    def should_terminate(self, context: dict[str, Any]) -> TerminationResult:
        for condition in self.conditions:
            outcome = condition.should_terminate(context)
            if outcome.should_terminate:
                return outcome
        return TerminationResult(False)
