"""Guardrails: checks on an agent's input or output, or on a tool's arguments or result.

Tagged on ``guardrailType``: ``regex`` and ``llm`` run on the server; ``custom`` runs in the
SDK's worker named ``taskName``; ``external`` in some other process's worker of that name.
Fields left unset keep their documented defaults (position ``output``, onFail ``retry``,
maxRetries 3) without being written, so the JSON stays what the SDK sent.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from agentspan.protocol.spec._parts import SpecPart, tag_of

GuardrailPosition = Literal["input", "output", "tool_input", "tool_output"]
"""Agent guardrails use input/output; a tool's guardrails may also say tool_input/tool_output."""

OnFail = Literal["retry", "raise", "fix", "human"]


class _Guardrail(SpecPart):
    name: Annotated[str, Field(min_length=1)]
    position: GuardrailPosition | None = None
    on_fail: OnFail | None = None
    max_retries: Annotated[int, Field(ge=1)] | None = None


MAX_PATTERNS = 64
MAX_PATTERN_CHARS = 1_000


class RegexGuardrailSpec(_Guardrail):
    """Fails when a pattern matches (``mode="block"``) or when none does (``"allow"``).
    Python ``re`` syntax; each pattern must compile (checked at start)."""

    guardrail_type: Literal["regex"]
    patterns: Annotated[
        list[Annotated[str, Field(max_length=MAX_PATTERN_CHARS)]],
        Field(min_length=1, max_length=MAX_PATTERNS),
    ]
    mode: Literal["block", "allow"] | None = None
    message: str | None = None

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
        return patterns


class LlmGuardrailSpec(_Guardrail):
    """A model judges the content against ``policy``."""

    guardrail_type: Literal["llm"]
    model: Annotated[str, Field(min_length=1)]
    policy: Annotated[str, Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    scripted_turns: list[dict[str, Any]] | None = None
    """A scripted judge's verdicts (``LLMGuardrail(ScriptedModel([...]))``, for tests):
    the Nth check of this guardrail in a run gets the Nth (the last once they run out)."""


class FunctionGuardrailSpec(_Guardrail):
    """The user's function, served by a worker (``custom``: the SDK's; ``external``: another's)."""

    guardrail_type: Literal["custom", "external"]
    task_name: Annotated[str, Field(min_length=1)]


def _guardrail_kind(value: Any) -> str:
    return str(tag_of(value, "guardrailType", "guardrail_type"))


GuardrailSpec = Annotated[
    Annotated[RegexGuardrailSpec, Tag("regex")]
    | Annotated[LlmGuardrailSpec, Tag("llm")]
    | Annotated[FunctionGuardrailSpec, Tag("custom")]
    | Annotated[FunctionGuardrailSpec, Tag("external")],
    Discriminator(
        _guardrail_kind,
        custom_error_type="guardrail_type",
        custom_error_message="guardrailType must be 'regex', 'llm', 'custom' or 'external'",
    ),
]
