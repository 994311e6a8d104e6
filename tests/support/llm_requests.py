"""Provider requests for the unit tests of the OpenAI-compatible family and the SDK extras
(tests/unit/test_providers_openai_*.py): a tool spec and ``LlmRequest`` builders with everyday
defaults."""

from __future__ import annotations

from typing import Any

from agentspan.protocol.messages import UserMessage
from agentspan.server.providers import LlmRequest, LlmToolSpec

WEATHER = LlmToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def user_message(text: str, media: list[str] | None = None) -> UserMessage:
    message: UserMessage = {"role": "user", "content": text}
    if media:
        message["media"] = media
    return message


def llm_request(model: str = "m", **fields: Any) -> LlmRequest:
    return LlmRequest(model=model, messages=fields.pop("messages", [user_message("hi")]), **fields)
