"""Provider-neutral request/response types for one model call.

Conversation messages use one internal shape, :data:`agentspan.protocol.messages.ChatMessage`
(plain JSON dicts typed as a union tagged on ``role``: user, assistant, tool); each adapter
narrows on ``message["role"]`` to convert them.

System instructions are not stored in the conversation; they travel in
:attr:`LlmRequest.instructions` and each adapter places them where its API wants them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agentspan.protocol.messages import ChatMessage


@dataclass(frozen=True, slots=True)
class LlmToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LlmRequest:
    model: str
    """The model name without the provider prefix (``gpt-4o`` for ``openai/gpt-4o``)."""
    messages: list[ChatMessage]
    tools: list[LlmToolSpec] = field(default_factory=list)
    instructions: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    output_schema: dict[str, Any] | None = None
    """JSON schema the final answer must satisfy (structured output), if any."""
    thinking_budget_tokens: int | None = None
    """Enable extended thinking/reasoning with this token budget, where supported."""
    options: dict[str, Any] = field(default_factory=dict)
    """Provider-specific settings from the agent spec (e.g. Azure ``apiVersion``)."""


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
    cached_tokens: int = 0
    """Prompt tokens served from the provider's cache (included in ``prompt_tokens``)."""
    reasoning_tokens: int = 0
    """Thinking/reasoning tokens (included in ``completion_tokens``)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class LlmResponse:
    content: str | None
    tool_calls: list[LlmToolCall] = field(default_factory=list)
    usage: LlmUsage = field(default_factory=LlmUsage)
    finish_reason: str | None = None
    thinking: str | None = None
    """Reasoning text the provider returned alongside the answer, if any."""


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


@dataclass(frozen=True, slots=True)
class Embeddings:
    """One embedding per input text (same order), and the tokens the call used."""

    vectors: list[list[float]]
    prompt_tokens: int = 0


MAX_EMBED_BATCH = 256
"""The most texts one ``embed`` call takes (OpenAI accepts up to 2048; kept smaller)."""


@runtime_checkable
class Embedder(Protocol):
    """An adapter that can turn texts into vectors (``POST /embeddings`` and the like).
    Not every provider has one: check with ``isinstance(adapter, Embedder)``."""

    async def embed(self, model: str, texts: list[str], dimensions: int | None = None) -> Embeddings: ...


DeltaCallback = Callable[[str], None]
"""Receives partial answer text as the provider streams it (not durable)."""


class Provider(Protocol):
    """One wire protocol. Implementations must be safe to share between executions.

    ``on_delta``: when given and the provider can stream, the adapter streams the reply
    and calls it with each piece of answer text; the returned ``LlmResponse`` is the
    complete reply either way.
    """

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse: ...

    async def aclose(self) -> None: ...
