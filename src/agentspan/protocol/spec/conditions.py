"""Decisions the server evaluates from data: termination, handoffs between agents, gates.

Each is a tagged union on ``type``; conditions that need the user's Python run in a worker
and appear as a :class:`TaskRef` (``{"taskName": ...}``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from agentspan.protocol.spec._parts import SpecPart, TaskRef, tag_of

# --- termination --------------------------------------------------------------------------


class TextMentionSpec(SpecPart):
    """Stop when the answer mentions ``text``."""

    type: Literal["text_mention"]
    text: str
    case_sensitive: bool | None = None


class StopMessageSpec(SpecPart):
    """Stop when the answer, stripped, is exactly ``stopMessage`` (default ``TERMINATE``)."""

    type: Literal["stop_message"]
    stop_message: str | None = None


class MaxMessageSpec(SpecPart):
    """Stop once the conversation has ``maxMessages`` messages."""

    type: Literal["max_message"]
    max_messages: Annotated[int, Field(ge=1)]


class TokenUsageSpec(SpecPart):
    """Stop once token usage reaches any of the limits given."""

    type: Literal["token_usage"]
    max_total_tokens: int | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None


class CombinedSpec(SpecPart):
    """``and``: stop when every condition does; ``or``: when any does."""

    type: Literal["and", "or"]
    conditions: list[TerminationSpec]


TerminationSpec = Annotated[
    TextMentionSpec | StopMessageSpec | MaxMessageSpec | TokenUsageSpec | CombinedSpec,
    Field(discriminator="type"),
]
CombinedSpec.model_rebuild()

# --- handoffs (strategy "swarm") ------------------------------------------------------------


class _Handoff(SpecPart):
    target: Annotated[str, Field(min_length=1)]


class OnToolResultSpec(_Handoff):
    """Hand over after a call of ``toolName`` (whose result contains ``resultContains``)."""

    type: Literal["on_tool_result"]
    tool_name: str
    result_contains: str | None = None


class OnTextMentionSpec(_Handoff):
    """Hand over when the answer mentions ``text`` (ignoring case)."""

    type: Literal["on_text_mention"]
    text: str


class OnConditionSpec(_Handoff):
    """Hand over when the user's predicate, served as ``taskName``, says so."""

    type: Literal["on_condition"]
    task_name: Annotated[str, Field(min_length=1)]


HandoffSpec = Annotated[OnToolResultSpec | OnTextMentionSpec | OnConditionSpec, Field(discriminator="type")]

# --- gates (strategy "sequential") ----------------------------------------------------------


class TextGateSpec(SpecPart):
    """Stop the pipeline after this agent when its output contains ``text``."""

    type: Literal["text_contains"]
    text: str
    case_sensitive: bool | None = None
    """Unset: case-sensitive."""


def _gate_kind(value: Any) -> str:
    return "text" if tag_of(value, "type", "type") is not None else "function"


GateSpec = Annotated[
    Annotated[TextGateSpec, Tag("text")] | Annotated[TaskRef, Tag("function")],
    Discriminator(_gate_kind),
]
