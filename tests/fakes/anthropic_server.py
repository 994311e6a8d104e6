"""A fake Anthropic Messages API server for tests.

A real HTTP server on ``127.0.0.1`` (see :mod:`fakes._http`) serving ``POST /v1/messages``,
with the same scripting API as ``FakeOpenAI``::

    with FakeAnthropic() as fake:
        fake.script(FakeAnthropic.tool_calls([("get_weather", {"city": "NYC"})]), FakeAnthropic.text("Sunny"))
        ...  # point the code under test at fake.base_url
        assert fake.request_count == 2

Replies are plain ``message`` bodies, or server-sent events when the request says
``"stream": true``. Like the real API, the fake refuses requests without ``anthropic-version`` or
``max_tokens``, tool results that answer no ``tool_use``, thinking budgets that do not fit, and a
thinking-enabled tool-use loop whose assistant turn lacks its thinking block. Every reply reports
``input_tokens=10`` and ``output_tokens=5`` (plus any scripted thinking tokens).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fakes._http import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    FakeReply,
    FakeServer,
    HttpReply,
    Route,
    fixed_pieces,
    parsed_or_raw,
    word_pieces,
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_MIN_THINKING_BUDGET = 1024


class FakeAnthropic(FakeServer):
    """Serves ``POST /v1/messages`` from a queue of scripted replies."""

    thread_name = "fake-anthropic"

    def _route(self, path: str) -> Route | None:
        return Route() if path.split("?", 1)[0].rstrip("/") == "/v1/messages" else None

    def _reject(self, body: dict[str, Any], headers: dict[str, str], route: Route) -> HttpReply | None:
        if self.api_key is not None and headers.get("x-api-key") != self.api_key:
            return self._error_reply(401, "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return self._error_reply(400, "anthropic-version: header is required")
        problem = request_problem(body)
        return self._error_reply(400, problem) if problem is not None else None

    def _error_reply(self, status: int, message: str) -> HttpReply:
        error = {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}
        return HttpReply(status, json.dumps({"type": "error", "error": error}).encode())

    def _render(self, reply: FakeReply, body: dict[str, Any], number: int, route: Route) -> HttpReply:
        if reply.raw_body is not None:
            return self._raw_reply(reply)
        if reply.error_message is not None or reply.status >= 400:
            error = self._error_reply(reply.status, reply.error_message or _phrase(reply.status))
            retry = () if reply.retry_after is None else (("retry-after", str(reply.retry_after)),)
            return HttpReply(error.status, error.body, headers=retry + reply.headers)
        message = self._message(reply, body, number)
        if body.get("stream") is True:
            return HttpReply(
                200,
                chunks=tuple(stream_events(message, reply.stream_error)),
                content_type="text/event-stream",
            )
        return HttpReply(200, json.dumps(message).encode())

    def _message(self, reply: FakeReply, request: dict[str, Any], number: int) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            content.append({"type": "thinking", "thinking": reply.thinking, "signature": f"sig-{number}"})
        if reply.content is not None:
            content.append({"type": "text", "text": reply.content})
        for name, arguments in reply.tool_calls:
            # The real API always sends a parsed object; unparseable text is kept as a string so
            # malformed-argument handling can be exercised (streams send it as raw JSON pieces).
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_fake_{self._next_number()}",
                    "name": name,
                    "input": parsed_or_raw(arguments),
                }
            )
        stop_reason = reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")
        return {
            "id": f"msg_fake_{number}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model", "fake"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": PROMPT_TOKENS,
                "cache_read_input_tokens": reply.cached_tokens,
                "cache_creation_input_tokens": reply.cache_write_tokens,
                "output_tokens": COMPLETION_TOKENS + reply.reasoning_tokens,
            },
        }


def stream_events(message: dict[str, Any], stream_error: str | None = None) -> list[bytes]:
    """The server-sent events that stream ``message``, one encoded event per item."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    if stream_error is not None:
        # Cut after the first delta, as an overloaded server does mid-answer.
        first_delta = next(i for i, (name, _) in enumerate(events) if name == "content_block_delta")
        error = {"type": "error", "error": {"type": "overloaded_error", "message": stream_error}}
        events = [*events[: first_delta + 1], ("error", error)]
    else:
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": message["usage"]["output_tokens"]},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    deltas: list[dict[str, Any]]
    if kind == "text":
        opening: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in word_pieces(block["text"])]
    elif kind == "thinking":
        opening = {"type": "thinking", "thinking": ""}
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in word_pieces(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        raw = block["input"] if isinstance(block["input"], str) else json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in fixed_pieces(raw)]
    return [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}),
        *(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


# -- the real API's request checks --------------------------------------------------------------


def request_problem(body: dict[str, Any]) -> str | None:
    """Why the real API would answer 400 to ``body``, or None (checks a useful subset)."""
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if messages[0].get("role") != "user":
        return "messages: first message must use the 'user' role"
    return _tool_result_problem(messages) or _thinking_problem(body, messages)


def _tool_result_problem(messages: list[dict[str, Any]]) -> str | None:
    for position, message in enumerate(messages):
        blocks = message.get("content")
        if not isinstance(blocks, list) or not blocks:
            return f"messages.{position}.content: must be a non-empty list of blocks"
        result_ids = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if not result_ids:
            continue
        previous = messages[position - 1].get("content") if position > 0 else []
        use_ids = {b.get("id") for b in previous or [] if b.get("type") == "tool_use"}
        for result_id in result_ids:
            if result_id not in use_ids:
                return f"messages.{position}: unexpected tool_use_id {result_id!r} in tool_result blocks"
        if any(b.get("type") != "tool_result" for b in blocks[: len(result_ids)]):
            return f"messages.{position}: tool_result blocks must come first"
    return None


def _thinking_problem(body: dict[str, Any], messages: list[dict[str, Any]]) -> str | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < _MIN_THINKING_BUDGET:
        return f"thinking.budget_tokens: must be >= {_MIN_THINKING_BUDGET}"
    if budget >= body["max_tokens"]:
        return "max_tokens must be greater than thinking.budget_tokens"
    if body.get("temperature", 1) != 1:
        return "temperature may only be set to 1 when thinking is enabled"
    last_assistant = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
    if last_assistant is not None:
        blocks = last_assistant["content"]
        uses_tools = any(b.get("type") == "tool_use" for b in blocks)
        if uses_tools and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
            return (
                "Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is "
                "enabled, a final `assistant` message must start with a thinking block."
            )
    return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Overloaded" if status == 529 else "Error"
