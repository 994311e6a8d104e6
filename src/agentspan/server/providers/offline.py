"""A built-in deterministic model that needs no network (``offline/basic``).

Used by the demo and the tests. Any ``offline/<name>`` behaves the same. Everything below is
deterministic: no randomness and no clock, so the same request always gets the same reply.

**Turn logic.** "The current request" is the messages after the last ``user`` message, and
"the prompt" is that user message's text.

1. If tools are offered and the model has made no tool calls since the last user message, it
   calls every offered tool once, all in one reply, in the order offered. Call ids are
   ``call_<n>`` where ``n`` counts tool calls over the whole conversation (``call_1``,
   ``call_2``, ... then ``call_3`` on the next turn), so ids are unique.
   ``finish_reason`` is ``"tool_calls"`` and ``content`` is ``None``.
2. Otherwise it answers with text (``finish_reason`` ``"stop"``):

   * with tool results after the last user message::

         Here is what I found:
         - <tool name>: <tool content, first 500 characters>

     one line per tool result, in conversation order;
   * otherwise ``Offline model reply to: <prompt>``;
   * if ``output_schema`` is set, the content is instead a JSON document valid against that
     schema, built with the value rules below.

**Value rules** (tool arguments and ``output_schema`` documents):

* objects: only ``required`` properties are filled, recursively; optional ones are left out;
* strings: a property named ``request``, ``query``, ``prompt``, ``question``, ``text`` or
  ``message`` gets the whole prompt. Any other string gets the first entity-looking token of
  the prompt -- an all-caps word of two or more letters (``NYC``) or a capitalised word that
  does not start a sentence and is not a common question word or filler (``What``, ``Can``,
  ``I``, ...); consecutive capitalised words stay together (``New York``). Without one, the
  prompt stripped and cut to 200 characters. ``minLength``/``maxLength`` are honoured;
  a ``format`` of ``date``, ``date-time``, ``time``, ``email``, ``uri``/``url`` or ``uuid``
  takes precedence and gets a fixed example value;
* integers and numbers: the numbers in the prompt, in order, one per numeric property
  (integers drop any fraction); once they run out, ``1``. Clamped into
  ``minimum``/``maximum`` and the exclusive bounds;
* booleans: ``true``; ``null``: ``null``;
* ``const``: that value; ``enum``: its first value (both checked before ``type``);
* arrays: ``[]``, or ``minItems`` generated items (``prefixItems`` first, then ``items``);
* ``anyOf``/``oneOf``: the first branch that is not ``null``; ``allOf``: the branches merged;
  a ``type`` list: its first non-``null`` type; no ``type``: inferred from ``properties`` /
  ``items``, else string;
* ``$ref`` to ``#/$defs/...`` (or ``#/definitions/...``) is resolved within the schema.

**Usage.** ``prompt_tokens`` is the number of whitespace-separated words in the instructions
plus every message's content and tool-call arguments; ``completion_tokens`` is the number of
words in the reply's content, or in the tool calls' argument JSON.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
from typing import Any

from agentspan.protocol.messages import ChatMessage, MessageToolCall, ToolMessage
from agentspan.server.providers.base import DeltaCallback, LlmRequest, LlmResponse, LlmToolCall, LlmUsage

# Properties with these names carry the user's whole request rather than an extracted entity.
_INLINE_TOOLS = 64
"""Up to this many offered tools, a reply is built on the event loop (it takes microseconds)."""

_WHOLE_PROMPT_NAMES = frozenset({"request", "query", "prompt", "question", "text", "message"})

# Capitalised words that are not entities even mid-sentence.
_NOT_ENTITIES = frozenset(
    """
    what what's whats where where's when who who's whom whose why how how's which
    is are am was were can could would should shall will do does did may might must
    please i i'm i'd i've i'll ok okay hi hello hey thanks thank
    the a an and or but tell show give find
    """.split()  # noqa: SIM905 -- a word block is easier to read and extend than 54 literals
)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w)")
_SENTENCE_END = ".!?\n\r"
_MAX_FALLBACK = 200
_MAX_TOOL_CONTENT = 500
_MAX_DEPTH = 32

_FORMAT_EXAMPLES = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


class OfflineProvider:
    """Deterministic, network-free model; see the module docstring for its exact behaviour."""

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        """Produce the next assistant turn for ``request``.

        With ``on_delta`` the answer text is also delivered word by word, as a streaming
        provider would, so streaming can be exercised without a network.
        """
        if len(request.tools) > _INLINE_TOOLS:
            # Filling arguments for thousands of tools takes a while: in a thread, the
            # event loop keeps serving requests meanwhile (the GIL is handed over often).
            reply = await asyncio.to_thread(respond, request)
        else:
            reply = respond(request)
        if on_delta is not None and reply.content:
            for piece in re.findall(r"\S+\s*", reply.content):
                on_delta(piece)
                await asyncio.sleep(0)  # let subscribers run, as network chunks would
        return reply

    async def aclose(self) -> None:
        """Nothing to release."""


def respond(request: LlmRequest) -> LlmResponse:
    """The synchronous core of :class:`OfflineProvider`."""
    messages = request.messages
    last_user = _last_user_index(messages)
    prompt = _text(messages[last_user]["content"]) if last_user >= 0 else ""
    current = messages[last_user + 1 :]
    prompt_tokens = _prompt_words(request)

    called_since_user = any(_calls_of(m) for m in current)
    if request.tools and not called_since_user:
        n = sum(len(_calls_of(m)) for m in messages)
        calls = []
        for offset, tool in enumerate(request.tools, start=1):
            args = _Filler(prompt, tool.parameters).object_value(tool.parameters)
            calls.append(LlmToolCall(id=f"call_{n + offset}", name=tool.name, arguments=json.dumps(args)))
        return LlmResponse(
            content=None,
            tool_calls=calls,
            usage=LlmUsage(prompt_tokens, sum(_word_count(c.arguments) for c in calls)),
            finish_reason="tool_calls",
        )

    if request.output_schema is not None:
        content = json.dumps(_Filler(prompt, request.output_schema).value(request.output_schema))
    else:
        results = [m for m in current if m["role"] == "tool"]
        if results:
            names = _tool_names(messages)
            lines = [
                f"- {_result_name(m, names)}: {_text(m['content'])[:_MAX_TOOL_CONTENT]}" for m in results
            ]
            content = "Here is what I found:\n" + "\n".join(lines)
        else:
            content = f"Offline model reply to: {prompt}"
    return LlmResponse(
        content=content,
        usage=LlmUsage(prompt_tokens, _word_count(content)),
        finish_reason="stop",
    )


def _last_user_index(messages: list[ChatMessage]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            return index
    return -1


def _calls_of(message: ChatMessage) -> list[MessageToolCall]:
    """The tool calls an assistant message made (none for the other roles)."""
    return (message.get("tool_calls") or []) if message["role"] == "assistant" else []


def _text(content: Any) -> str:
    if content is None:
        return ""
    return content if isinstance(content, str) else json.dumps(content, sort_keys=True)


def _word_count(text: str) -> int:
    return len(text.split())


def _prompt_words(request: LlmRequest) -> int:
    total = _word_count(request.instructions or "")
    for message in request.messages:
        total += _word_count(_text(message["content"]))
        for call in _calls_of(message):
            total += _word_count(_text(call.get("arguments")))
    return total


def _tool_names(messages: list[ChatMessage]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in messages:
        for call in _calls_of(message):
            names[str(call.get("id"))] = str(call.get("name"))
    return names


def _result_name(message: ToolMessage, names: dict[str, str]) -> str:
    # Tool messages normally carry their name; fall back to the call that produced them.
    name = message.get("name")
    if isinstance(name, str) and name:
        return name
    return names.get(str(message.get("tool_call_id")), "tool")


def find_entity(prompt: str) -> str | None:
    """First entity-looking token of ``prompt`` (see the module docstring), or ``None``."""
    words = list(_WORD.finditer(prompt))
    for index, match in enumerate(words):
        word = _strip_possessive(match.group())
        if word.lower() in _NOT_ENTITIES:
            continue
        letters = [c for c in word if c.isalpha()]
        if len(letters) >= 2 and all(c.isupper() for c in letters):
            return word
        if word[0].isupper() and not _starts_sentence(prompt, match.start()):
            parts = [word]
            if word != match.group():
                return word  # a possessive ends the name
            # Keep multi-word names ("New York") together: follow words separated by one space.
            for follower, previous in zip(words[index + 1 :], words[index:], strict=False):
                nxt = _strip_possessive(follower.group())
                between = prompt[previous.end() : follower.start()]
                if between != " " or not nxt[0].isupper() or nxt.lower() in _NOT_ENTITIES:
                    break
                parts.append(nxt)
                if nxt != follower.group():
                    break  # a possessive ends the name
            return " ".join(parts)
    return None


def _strip_possessive(word: str) -> str:
    for suffix in ("'s", "’s", "'", "’"):
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)]
    return word


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘([")
    return not before or before[-1] in _SENTENCE_END


@functools.lru_cache(maxsize=8)
def _prompt_facts(prompt: str) -> tuple[tuple[float, ...], str]:
    """The prompt's numbers and the string value it gives, worked out once per prompt
    (a reply calling thousands of tools fills each one's arguments from the same prompt)."""
    numbers = tuple(float(m.group()) for m in _NUMBER.finditer(prompt))
    entity = find_entity(prompt)
    return numbers, entity if entity is not None else prompt.strip()[:_MAX_FALLBACK]


class _Filler:
    """Builds one schema-valid value from the prompt; numbers are consumed in order."""

    def __init__(self, prompt: str, root: dict[str, Any]) -> None:
        self._prompt = prompt
        self._root = root
        numbers, self._fallback = _prompt_facts(prompt)
        self._numbers = list(numbers)
        self._next_number = 0

    def object_value(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Tool arguments must be an object even if the schema is loose."""
        value = self.value(schema)
        return value if isinstance(value, dict) else {}

    def value(self, schema: Any, name: str | None = None, depth: int = 0) -> Any:
        """A value for ``schema``; ``name`` is the property it fills, if any."""
        schema = self._resolve(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for keyword in ("anyOf", "oneOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                return self.value(self._first_non_null(branches, depth), name, depth + 1)
        kind = _schema_type(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind in ("integer", "number"):
            return self._number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, name)

    def _resolve(self, schema: Any, depth: int) -> dict[str, Any]:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._lookup(ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self._resolve({**target, **rest}, depth + 1)
        parts = schema.get("allOf")
        if isinstance(parts, list) and parts:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                part = self._resolve(part, depth + 1)
                properties = {**merged.get("properties", {}), **part.get("properties", {})}
                required = list(dict.fromkeys([*merged.get("required", []), *part.get("required", [])]))
                merged = {**part, **merged, "properties": properties, "required": required}
            return merged
        return schema

    def _lookup(self, ref: str) -> dict[str, Any]:
        node: Any = self._root
        if not ref.startswith("#"):
            return {}  # remote references are out of scope for an offline model
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return {}
            node = node[part]
        return node if isinstance(node, dict) else {}

    def _first_non_null(self, branches: list[Any], depth: int) -> dict[str, Any]:
        for branch in branches:
            resolved = self._resolve(branch, depth + 1)
            if _schema_type(resolved) != "null" or "const" in resolved or "enum" in resolved:
                return resolved
        return self._resolve(branches[0], depth + 1)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = schema.get("required")
        required = required if isinstance(required, list) else []
        return {key: self.value(properties.get(key, {}), key, depth + 1) for key in required}

    def _array(self, schema: dict[str, Any], name: str | None, depth: int) -> list[Any]:
        count = schema.get("minItems")
        count = count if isinstance(count, int) and count > 0 else 0
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items", {})
        return [self.value(prefix[i] if i < len(prefix) else items, name, depth + 1) for i in range(count)]

    def _number(self, schema: dict[str, Any], *, integer: bool) -> int | float:
        value: float = 1
        if self._next_number < len(self._numbers):
            value = self._numbers[self._next_number]
            self._next_number += 1
        value = _clamp(value, schema, integer=integer)
        if integer:
            return int(value)
        return int(value) if float(value).is_integer() else value

    def _string(self, schema: dict[str, Any], name: str | None) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMAT_EXAMPLES:
            value = _FORMAT_EXAMPLES[fmt]
        elif name is not None and name.lower() in _WHOLE_PROMPT_NAMES:
            value = self._prompt
        else:
            value = self._fallback
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and max_length >= 0:
            value = value[:max_length]
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(value) < min_length:
            value += "x" * (min_length - len(value))
        return value


def _schema_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    return "string"


def _clamp(value: float, schema: dict[str, Any], *, integer: bool) -> float:
    low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
    ex_low, ex_high = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")
    if integer:
        # Integer bounds collapse to one inclusive range.
        lows = [math.ceil(low)] if low is not None else []
        lows += [math.floor(ex_low) + 1] if ex_low is not None else []
        highs = [math.floor(high)] if high is not None else []
        highs += [math.ceil(ex_high) - 1] if ex_high is not None else []
        result = math.trunc(value)
        if lows:
            result = max(result, *lows)
        if highs:
            result = min(result, *highs)
        return result
    fits = (
        (low is None or value >= low)
        and (ex_low is None or value > ex_low)
        and (high is None or value <= high)
        and (ex_high is None or value < ex_high)
    )
    if fits:
        return value
    # Out of bounds: pick a point inside them instead of the prompt's number.
    lower = max([b for b in (low, ex_low) if b is not None], default=None)
    upper = min([b for b in (high, ex_high) if b is not None], default=None)
    if lower is not None and upper is not None:
        return (lower + upper) / 2 if lower != upper else lower
    if lower is not None:
        return lower + 1 if lower == ex_low else lower
    if upper is not None:
        return upper - 1 if upper == ex_high else upper
    return value


def _bound(schema: dict[str, Any], key: str) -> float | None:
    # Draft-4 boolean exclusive bounds are not numbers and are ignored.
    value = schema.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
