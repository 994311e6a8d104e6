"""The executor of ``http`` tools: one HTTP request per call, made by the server.

Where the arguments go: ``{name}`` in the URL is replaced by that argument (URL-quoted);
arguments the tool lists in ``queryParams`` / ``headerParams`` go to the query string /
headers; the rest go to the query string for GET, DELETE and HEAD and to the body (JSON,
or a form for ``application/x-www-form-urlencoded``) otherwise, or, with ``bodyParam``,
that argument's value is the whole body.

``${NAME}`` in a header value is a credential, resolved at call time through the
context's ``SecretResolver``; the value lives only in this call's memory, and anything
the remote side sends back (body, error text) is masked before it is recorded. Every
request carries the call's idempotency key (the same on every attempt) as
``Idempotency-Key``. Destinations are checked by ``server/outbound.py``.

The model sees ``{"status", "body"}`` for a 2xx answer (``truncated`` says where a body
over the operator's size cap was cut) and a tool error naming the status for anything
else; 408, 429 and 5xx are retried by the tool's retry policy first.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx

import agentspan
from agentspan.protocol.spec import HttpTool
from agentspan.protocol.spec.tools import HttpSettings
from agentspan.server.executors.base import ExecutorContext, MissingSecret
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor
from agentspan.server.outbound import (
    DestinationRefused,
    Masker,
    OutboundPolicy,
    check_credential_names,
    read_capped,
    refusal_of,
)
from agentspan.server.settings import HttpToolSettings

QUERY_METHODS = frozenset({"GET", "DELETE", "HEAD"})
"""Methods whose remaining arguments go to the query string, not a body."""
PLACEHOLDER = re.compile(r"\$\{([^{}]+)\}")
"""A credential in a header value: ``Bearer ${GITHUB_TOKEN}``."""
_PATH_PARAM = re.compile(r"(?<!\$)\{([^{}/]+)\}")
_RETRIED_STATUSES = frozenset({408, 425, 429})
_ERROR_SNIPPET_CHARS = 2000
_USER_AGENT = f"agentspan/{agentspan.__version__}"


@dataclass(slots=True)
class HttpRequest:
    """One call's request, before credentials are filled in."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None


def build_request(config: HttpSettings, args: dict[str, Any]) -> HttpRequest:
    """Where each argument goes (module docstring); ``ToolCallError`` for a URL
    parameter the model did not give."""
    method = (config.method or "GET").upper()
    rest = dict(args)
    url = _substitute_path(config.url, rest)
    request = HttpRequest(method=method, url=url, headers=dict(config.headers or {}))
    for name in config.header_params or ():
        if name in rest and rest[name] is not None:
            request.headers[name] = _as_text(rest.pop(name))
    for name in config.query_params or ():
        if name in rest:
            request.params.extend(_query_items(name, rest.pop(name)))
    set_default(request.headers, "Accept", ", ".join(config.accept or ["application/json"]))
    if config.body_param:
        if config.body_param in rest:
            request.content = _encode_body(rest.pop(config.body_param), config, request)
    elif method not in QUERY_METHODS:
        request.content = _encode_body(rest, config, request)
        rest = {}
    for name, value in rest.items():
        request.params.extend(_query_items(name, value))
    return request


def _substitute_path(url: str, args: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in args or args[name] is None:
            raise ToolCallError(f"missing argument {name!r} for the URL {url}", retryable=False)
        return quote(_as_text(args.pop(name)), safe="")

    return _PATH_PARAM.sub(replace, url)


def _encode_body(value: Any, config: HttpSettings, request: HttpRequest) -> bytes:
    content_type = config.content_type or "application/json"
    set_default(request.headers, "Content-Type", content_type)
    if content_type.startswith("application/x-www-form-urlencoded") and isinstance(value, dict):
        return urlencode([(k, _as_text(v)) for k, v in value.items()]).encode()
    if isinstance(value, str) and not content_type.endswith("json"):
        return value.encode()
    return json.dumps(value, ensure_ascii=False).encode()


def _query_items(name: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, list):
        return [(name, _as_text(item)) for item in value]
    return [(name, _as_text(value))]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def set_default(headers: dict[str, str], name: str, value: str) -> None:
    """Add a header unless the tool sets it already, in any letter case."""
    if not any(key.lower() == name.lower() for key in headers):
        headers[name] = value


def placeholders(headers: dict[str, str]) -> list[str]:
    """The credential names ``${NAME}`` in header values, in order, once each."""
    names = (m.group(1) for value in headers.values() for m in PLACEHOLDER.finditer(value))
    return list(dict.fromkeys(names))


def fill_in(headers: dict[str, str], secrets: dict[str, str]) -> dict[str, str]:
    return {k: PLACEHOLDER.sub(lambda m: secrets[m.group(1)], v) for k, v in headers.items()}


async def resolve_secrets(names: list[str], execution_id: str, ctx: ExecutorContext) -> dict[str, str]:
    """The values of ``names``; a missing one is a tool error the model sees, not retried
    (setting the credential takes a person)."""
    if not names:
        return {}
    try:
        check_credential_names(names)
    except DestinationRefused as exc:
        raise ToolCallError(str(exc), retryable=False) from None
    try:
        return dict(await ctx.secrets.resolve(names, execution_id))
    except MissingSecret as exc:  # its message names the credential and the command that sets it
        raise ToolCallError(str(exc), retryable=False) from None


class HttpToolExecutor(ToolExecutor):
    """Runs ``http`` tools: the ones an agent declares and the ones ``api_tool`` made."""

    kind = "http"

    def __init__(self, settings: HttpToolSettings | None = None) -> None:
        self.settings = settings or HttpToolSettings()
        self.policy = OutboundPolicy(self.settings)
        self.lease_seconds = self.settings.lease_seconds

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        tool = await _tool_of(call, ctx)
        request = build_request(tool.config, call.args)
        try:
            destination = self.policy.check(request.url)
        except DestinationRefused as exc:
            raise ToolCallError(str(exc), retryable=False) from None
        secrets = await resolve_secrets(placeholders(request.headers), call.execution_id, ctx)
        masker = Masker(secrets.values())
        headers = fill_in(request.headers, secrets)
        set_default(headers, "Idempotency-Key", call.idempotency_key)
        set_default(headers, "User-Agent", _USER_AGENT)
        timeout = call.timeout_seconds or self.settings.timeout_seconds
        try:
            # The whole call, not just each read: a slow trickle of bytes cannot hold it.
            async with asyncio.timeout(timeout), self.policy.client(destination, timeout) as client:
                return await self._send(client, request, headers, masker)
        except ToolCallError:
            raise
        except (httpx.TimeoutException, TimeoutError):
            raise ToolCallError(f"{request.method} {request.url} timed out after {timeout}s") from None
        except Exception as exc:  # noqa: BLE001 - masked: an error may quote a header value
            refused = refusal_of(exc)
            if refused is not None:
                raise ToolCallError(str(refused), retryable=False) from None
            detail = masker.text(f"{type(exc).__name__}: {exc}")
            raise ToolCallError(f"{request.method} {request.url} failed: {detail}") from None

    async def _send(
        self, client: httpx.AsyncClient, request: HttpRequest, headers: dict[str, str], masker: Masker
    ) -> dict[str, Any]:
        limit = self.settings.max_response_bytes
        async with client.stream(
            request.method,
            request.url,
            params=tuple(request.params),
            headers=headers,
            content=request.content,
        ) as response:
            raw, cut = await read_capped(response, limit)
            text = masker.text(raw.decode(response.encoding or "utf-8", errors="replace"))
        body: Any = text
        if not cut and "json" in response.headers.get("content-type", "") and text.strip():
            try:
                body = masker.json(json.loads(text))
            except ValueError:
                body = text
        status = response.status_code
        if not 200 <= status < 300:
            snippet = text if len(text) <= _ERROR_SNIPPET_CHARS else text[:_ERROR_SNIPPET_CHARS] + "…"
            message = f"HTTP {status} {response.reason_phrase}" + (f": {snippet}" if snippet else "")
            raise ToolCallError(message, retryable=status in _RETRIED_STATUSES or status >= 500)
        result: dict[str, Any] = {"status": status, "body": body}
        if cut:
            result["truncated"] = f"the response was cut at {limit} bytes (the server's limit)"
        return result


async def _tool_of(call: ToolCall, ctx: ExecutorContext) -> HttpTool:
    row = await ctx.store.get_execution(call.execution_id)
    if row is None:
        raise ToolCallError(f"execution {call.execution_id} is gone", retryable=False)
    spec = await ctx.spec_of(row)
    for tool in spec.tools:
        if tool.name == call.name and isinstance(tool, HttpTool):
            return tool
    raise ToolCallError(f"agent {spec.name!r} has no http tool {call.name!r}", retryable=False)
