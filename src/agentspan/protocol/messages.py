"""Chat messages: the conversation the engine writes and every provider adapter reads.

One internal shape for all providers; each adapter converts it to its API's form. The
messages are ``TypedDict``s, not models, on purpose: a conversation is stored, cached and
handed to providers as plain JSON dicts (the LLM executor's conversation cache shares them
between calls), and a long conversation must not pay for building objects on every model
call (docs/benchmarks.md, figure 6). The types cost nothing at run time; narrowing on
``message["role"]`` gives each branch its fields. Validate with :data:`CHAT_MESSAGES` where
messages come from outside (conversation memory, an import, a test fixture).

System instructions are not part of the conversation: they travel in
``LlmRequest.instructions`` and each adapter places them where its API wants them.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs it for TypedDicts on Python < 3.12

__all__ = [
    "CHAT_MESSAGES",
    "AssistantMessage",
    "ChatMessage",
    "MessageToolCall",
    "ToolMessage",
    "UserMessage",
]


_STRICT = ConfigDict(extra="forbid")  # a stray key at an edge is an error, not silently dropped


@with_config(_STRICT)
class MessageToolCall(TypedDict):
    """A tool call the model made, as recorded in its assistant message."""

    id: str
    """The provider's call id (the engine makes one up when the provider gave none)."""
    name: str
    arguments: str
    """The raw JSON text the model produced; it may be malformed (the engine checks it)."""


@with_config(_STRICT)
class UserMessage(TypedDict):
    role: Literal["user"]
    content: str
    media: NotRequired[list[str]]
    """Image or document URLs (``data:`` URLs included) for models that accept them."""


@with_config(_STRICT)
class AssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: str | None
    """``None`` when the model answered with tool calls only."""
    tool_calls: NotRequired[list[MessageToolCall]]
    """Always written by the engine (``[]`` for none); absent in hand-made transcripts."""
    name: NotRequired[str]
    """The team member who spoke, in the transcripts handed to decision functions."""


@with_config(_STRICT)
class ToolMessage(TypedDict):
    role: Literal["tool"]
    tool_call_id: str
    """The ``MessageToolCall.id`` this answers."""
    name: NotRequired[str]
    """The tool's name (Gemini wants it on the result). The engine always writes it; the
    adapters fall back to the name of the call it answers."""
    content: str
    """The result as text: the value, ``"Error: …"``, or why the call was rejected."""


ChatMessage = UserMessage | AssistantMessage | ToolMessage
"""One message of a conversation; narrow on ``message["role"]``."""

CHAT_MESSAGES: TypeAdapter[list[ChatMessage]] = TypeAdapter(
    list[Annotated[ChatMessage, Field(discriminator="role")]]
)
"""Validates a conversation at an edge: a clear error names the bad message and field.

Validating returns plain dicts (the same shape), so the result can be stored as it is;
an unknown role or key is refused.
"""
