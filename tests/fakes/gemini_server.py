"""A fake Gemini API server for tests.

A real HTTP server on ``127.0.0.1`` (see :mod:`fakes._http`) serving
``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent`` (server-sent events
with ``?alt=sse``, else a JSON array), with the same scripting API as ``FakeOpenAI``::

    with FakeGemini() as fake:
        fake.script(FakeGemini.tool_calls([("get_weather", {"city": "NYC"})]), FakeGemini.text("Sunny"))
        ...  # point the code under test at fake.base_url
        assert fake.request_count == 2

Like the real API, function calls come without ids, and the fake refuses schemas with keywords
outside Gemini's OpenAPI subset, an OBJECT without properties, function responses that do not
match the preceding function calls, and (for ``gemini-3*`` models) replayed function calls without
a ``thoughtSignature``. Every reply reports ``promptTokenCount=10`` and ``candidatesTokenCount=5``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fakes._http import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    FakeReply,
    FakeServer,
    HttpReply,
    Route,
    parsed_or_raw,
    word_pieces,
)

_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$")
_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# The Schema fields the API knows; any other name is "Invalid JSON payload received".
_SCHEMA_FIELDS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)


class FakeGemini(FakeServer):
    """Serves the Gemini ``generateContent`` endpoints from a queue of scripted replies."""

    thread_name = "fake-gemini"

    def _route(self, path: str) -> Route | None:
        split = urllib.parse.urlsplit(path)
        match = _PATH.match(split.path)
        if match is None:
            return None
        stream = match["method"] == "streamGenerateContent"
        sse = urllib.parse.parse_qs(split.query).get("alt") == ["sse"]
        return Route(stream=stream, model=match["model"], sse=sse)

    def _reject(self, body: dict[str, Any], headers: dict[str, str], route: Route) -> HttpReply | None:
        if self.api_key is not None:
            key = headers.get("x-goog-api-key")
            if key is None:
                return self._error_reply(403, "Method doesn't allow unregistered callers.")
            if key != self.api_key:
                return self._error_reply(400, "API key not valid. Please pass a valid API key.")
        problem = request_problem(body, route.model or "")
        return self._error_reply(400, problem) if problem is not None else None

    def _error_reply(self, status: int, message: str) -> HttpReply:
        return HttpReply(status, json.dumps({"error": _error(status, message)}).encode())

    def _render(self, reply: FakeReply, body: dict[str, Any], number: int, route: Route) -> HttpReply:
        if reply.raw_body is not None:
            return self._raw_reply(reply)
        if reply.error_message is not None or reply.status >= 400:
            error = _error(reply.status, reply.error_message or _phrase(reply.status))
            if reply.retry_after is not None:
                # Google says when to retry in a RetryInfo detail, not a Retry-After header.
                error["details"] = [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{reply.retry_after}s",
                    }
                ]
            return HttpReply(reply.status, json.dumps({"error": error}).encode(), headers=reply.headers)
        if not route.stream:
            return HttpReply(200, json.dumps(self._response(reply, route, number)).encode())
        chunks = self._chunks(reply, route, number)
        if not route.sse:
            return HttpReply(200, json.dumps(chunks).encode())
        return HttpReply(
            200,
            chunks=tuple(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks),
            content_type="text/event-stream",
        )

    def _parts(self, reply: FakeReply) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if reply.thinking is not None:
            parts.append({"text": reply.thinking, "thought": True})
        if reply.content is not None:
            parts.append({"text": reply.content})
        for index, (name, arguments) in enumerate(reply.tool_calls):
            # No ids, as the Gemini API sends them; a string ``args`` stands in for a malformed call.
            part: dict[str, Any] = {"functionCall": {"name": name, "args": parsed_or_raw(arguments)}}
            if index == 0:
                part["thoughtSignature"] = f"c2lnLXtoaW5raW5n{self._next_number()}"
            parts.append(part)
        return parts

    def _response(self, reply: FakeReply, route: Route, number: int) -> dict[str, Any]:
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": self._parts(reply)},
                    "finishReason": reply.finish_reason or "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": _usage(reply),
            "modelVersion": route.model,
            "responseId": f"fake-{number}",
        }

    def _chunks(self, reply: FakeReply, route: Route, number: int) -> list[dict[str, Any]]:
        """One chunk per thought or text piece, then the calls; the last carries the totals."""
        pieces: list[dict[str, Any]] = []
        for part in self._parts(reply):
            if "text" in part:
                pieces.extend({**part, "text": piece} for piece in word_pieces(part["text"]))
            else:
                pieces.append(part)
        chunks: list[dict[str, Any]] = [
            {
                "candidates": [{"content": {"role": "model", "parts": [piece]}, "index": 0}],
                # Intermediate chunks carry running counts; only the last one is final.
                "usageMetadata": {"promptTokenCount": PROMPT_TOKENS, "totalTokenCount": PROMPT_TOKENS},
                "modelVersion": route.model,
                "responseId": f"fake-{number}",
            }
            for piece in pieces or [{"text": ""}]
        ]
        chunks[-1]["candidates"][0]["finishReason"] = reply.finish_reason or "STOP"
        chunks[-1]["usageMetadata"] = _usage(reply)
        if reply.stream_error is not None:
            chunks = [chunks[0], {"error": _error(503, reply.stream_error)}]
        return chunks


def _usage(reply: FakeReply) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": PROMPT_TOKENS + reply.cached_tokens,
        "candidatesTokenCount": COMPLETION_TOKENS,
        "totalTokenCount": PROMPT_TOKENS + reply.cached_tokens + COMPLETION_TOKENS + reply.reasoning_tokens,
    }
    if reply.cached_tokens:
        # Gemini counts cached tokens inside promptTokenCount and reports them again here.
        usage["cachedContentTokenCount"] = reply.cached_tokens
    if reply.reasoning_tokens:
        usage["thoughtsTokenCount"] = reply.reasoning_tokens
    return usage


def _error(status: int, message: str) -> dict[str, Any]:
    return {"code": status, "message": message, "status": _STATUSES.get(status, "UNKNOWN")}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# -- the real API's request checks --------------------------------------------------------------


def request_problem(body: dict[str, Any], model: str) -> str | None:
    """Why the real API would answer 400 to ``body``, or None (checks a useful subset)."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for position, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            return f"contents[{position}].role: Please use a valid role: user, model."
        if not content.get("parts"):
            return f"contents[{position}].parts: must not be empty"
    problem = _function_turn_problem(contents, model)
    if problem is not None:
        return problem
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            if "parameters" in declaration:
                problem = schema_problem(declaration["parameters"], f"{declaration.get('name')}.parameters")
                if problem is not None:
                    return problem
    config = body.get("generationConfig") or {}
    if "responseSchema" in config:
        return schema_problem(config["responseSchema"], "generationConfig.responseSchema")
    return None


def _function_turn_problem(contents: list[dict[str, Any]], model: str) -> str | None:
    for position, content in enumerate(contents):
        responses = [p for p in content["parts"] if "functionResponse" in p]
        calls = [p for p in content["parts"] if "functionCall" in p]
        if calls and model.startswith("gemini-3") and "thoughtSignature" not in calls[0]:
            return (
                f"Function call is missing a thought_signature in functionCall parts (contents[{position}])"
            )
        if not responses:
            continue
        previous = contents[position - 1]["parts"] if position > 0 else []
        previous_calls = [p for p in previous if "functionCall" in p]
        if len(previous_calls) != len(responses):
            return (
                "Please ensure that the number of function response parts is equal to the number of "
                "function call parts of the function call turn."
            )
    return None


def schema_problem(schema: Any, where: str) -> str | None:
    """The first thing in ``schema`` the Gemini API rejects, or None."""
    if not isinstance(schema, Mapping):
        return f"{where}: schema must be an object"
    for key in schema:
        if key not in _SCHEMA_FIELDS:
            return f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
    if (
        str(schema.get("type", "")).lower() == "object"
        and "properties" in schema
        and not schema["properties"]
    ):
        return f"{where}.properties: should be non-empty for OBJECT type"
    enum = schema.get("enum")
    if enum is not None and not all(isinstance(v, str) for v in enum):
        return f"{where}.enum: only string values are allowed"
    children: list[tuple[str, Any]] = [
        (f"{where}.properties.{k}", v) for k, v in (schema.get("properties") or {}).items()
    ]
    if "items" in schema:
        children.append((f"{where}.items", schema["items"]))
    children.extend((f"{where}.anyOf[{i}]", v) for i, v in enumerate(schema.get("anyOf") or []))
    for child_where, child in children:
        problem = schema_problem(child, child_where)
        if problem is not None:
            return problem
    return None
