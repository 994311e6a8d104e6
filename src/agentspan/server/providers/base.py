"""Provider-neutral request/response types for one model call.

Conversation messages use one internal shape (plain dicts, JSON-ready):

* ``{"role": "user", "content": str}``
* ``{"role": "assistant", "content": str | None, "tool_calls": [{"id", "name", "arguments"}]}``
  where ``arguments`` is the raw JSON text the model produced (it may be malformed);
* ``{"role": "tool", "tool_call_id": str, "name": str, "content": str}``.

System instructions are not stored in the conversation; they travel in
:attr:`LlmRequest.instructions` and each adapter places them where its API wants them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class LlmToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LlmRequest:
    model: str
    """The model name without the provider prefix (``gpt-4o`` for ``openai/gpt-4o``)."""
    messages: list[dict[str, Any]]
    tools: list[LlmToolSpec] = field(default_factory=list)
    instructions: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    base_url: str | None = None
    output_schema: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LlmToolCall:
    id: str
    name: str
    arguments: str
    """Raw JSON text as produced by the model; the engine validates it."""


@dataclass(frozen=True, slots=True)
class LlmUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class LlmResponse:
    content: str | None
    tool_calls: list[LlmToolCall] = field(default_factory=list)
    usage: LlmUsage = field(default_factory=LlmUsage)
    finish_reason: str | None = None


class ProviderError(Exception):
    """A model call failed.

    ``retryable`` errors (429, 5xx, timeouts, connection errors) are retried with backoff by
    the LLM executor, honouring ``retry_after`` when the provider sent one; the others
    (missing key, unknown model, 4xx) fail the execution at once with this message.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Provider(Protocol):
    """One wire protocol. Implementations must be safe to share between executions."""

    async def complete(self, request: LlmRequest) -> LlmResponse: ...

    async def aclose(self) -> None: ...
