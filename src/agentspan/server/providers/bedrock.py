"""Adapter for Amazon Bedrock's Converse API through boto3 (optional extra ``bedrock``).

Requests are signed with AWS SigV4 using boto3's standard credential chain (environment,
shared profile, SSO, instance or task role), which is why this adapter uses the SDK instead of
the shared HTTP client. boto3 is synchronous, so each call runs in a worker thread. boto3's own
retries are switched off: the LLM executor retries retryable errors with its single policy.

The request/response mapping is done by pure functions (:func:`build_converse_request`,
:func:`parse_converse_response`, :func:`classify_error`) so it is testable without boto3.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from types import ModuleType
from typing import Any

from agentspan.protocol.messages import ChatMessage
from agentspan.server.providers._common import append_turn, call_sdk, load_sdk_module, unstreamed_reply
from agentspan.server.providers._common import arguments_object as arguments_object
from agentspan.server.providers._common import decode_data_url as decode_data_url
from agentspan.server.providers._common import schema_instruction as schema_instruction
from agentspan.server.providers.base import (
    DeltaCallback,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmUsage,
    ProviderError,
)

INSTALL_HINT = "pip install 'agentspan[bedrock]'"

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/html": "html",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_EXTENSION_FORMATS = {fmt: fmt for fmt in (*_IMAGE_FORMATS.values(), *_DOCUMENT_FORMATS.values())} | {
    "jpg": "jpeg"
}

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}
# Throttling and service-side faults are worth a retry; validation and access errors are not.
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)
_RETRYABLE_TRANSPORT = frozenset(
    {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"}
)


def load_sdk() -> ModuleType:
    """Import boto3, or fail with the command that installs it."""
    return load_sdk_module("boto3", "aws_bedrock", "boto3", INSTALL_HINT)


class BedrockProvider:
    """Calls ``bedrock-runtime`` Converse. ``sdk`` is the imported boto3 module."""

    def __init__(self, sdk: ModuleType, region: str | None, *, timeout: float = 120.0) -> None:
        self._sdk = sdk
        self._region = region
        self._timeout = timeout
        self._client: Any = None

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        """One Converse call. Not streamed: ``on_delta`` gets the whole answer once."""
        kwargs = build_converse_request(request)
        # botocore raises many unrelated types; classify_error sorts them.
        body = await call_sdk(lambda: self._converse(kwargs), classify_error)
        return unstreamed_reply("Bedrock", lambda: parse_converse_response(body), on_delta)

    async def aclose(self) -> None:
        """boto3 clients hold no resources that need closing; drop ours."""
        self._client = None

    async def _converse(self, kwargs: dict[str, Any]) -> Any:
        client = await asyncio.to_thread(self._runtime_client)
        return await asyncio.to_thread(lambda: client.converse(**kwargs))

    def _runtime_client(self) -> Any:
        # Created on first use (in a worker thread: it reads config files) and reused, since
        # boto3 clients are thread-safe.
        if self._client is None:
            config_module = importlib.import_module("botocore.config")
            config = config_module.Config(
                retries={"total_max_attempts": 1}, read_timeout=self._timeout, connect_timeout=10
            )
            self._client = self._sdk.client("bedrock-runtime", region_name=self._region, config=config)
        return self._client


def build_converse_request(request: LlmRequest) -> dict[str, Any]:
    """Keyword arguments for ``client.converse``."""
    kwargs: dict[str, Any] = {"modelId": request.model, "messages": converse_messages(request.messages)}
    system = [request.instructions] if request.instructions else []
    if request.output_schema is not None:
        # Converse has no portable structured-output switch across its model families, so the
        # schema goes into the system prompt; the engine validates the answer against it.
        system.append(schema_instruction(request.output_schema))
    if system:
        kwargs["system"] = [{"text": text} for text in system]
    inference: dict[str, Any] = {}
    if request.max_tokens is not None:
        inference["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if inference:
        kwargs["inferenceConfig"] = inference
    if request.tools:
        kwargs["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": t.name,
                        "description": t.description,
                        "inputSchema": {"json": t.parameters},
                    }
                }
                for t in request.tools
            ]
        }
    extra = _additional_fields(request)
    if extra:
        kwargs["additionalModelRequestFields"] = extra
    return kwargs


def _additional_fields(request: LlmRequest) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    # Extended thinking is a model-specific field; only Claude models on Bedrock accept this one,
    # and any other model would reject the request.
    if request.thinking_budget_tokens is not None and "anthropic" in request.model.lower():
        extra["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_budget_tokens}
    configured = request.options.get("additionalModelRequestFields")
    if isinstance(configured, dict):
        extra.update(configured)
    return extra


def converse_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Our conversation as Converse messages.

    Tool results become ``toolResult`` blocks in a user message, and consecutive messages of
    one role are merged, because Converse wants user and assistant turns to alternate.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        blocks: list[dict[str, Any]]
        if message["role"] == "tool":
            result_text = message["content"] or "(no output)"  # Converse rejects blank text
            blocks = [
                {"toolResult": {"toolUseId": message["tool_call_id"], "content": [{"text": result_text}]}}
            ]
            append_turn(out, "user", blocks, "content")
        elif message["role"] == "assistant":
            blocks = [{"text": message["content"]}] if message["content"] else []
            for call in message.get("tool_calls") or []:
                tool_use = {
                    "toolUseId": call["id"],
                    "name": call["name"],
                    "input": arguments_object(call["arguments"]),
                }
                blocks.append({"toolUse": tool_use})
            append_turn(out, "assistant", blocks, "content")
        else:
            blocks = [{"text": message["content"]}] if message["content"] else []
            blocks += [media_block(url, n) for n, url in enumerate(message.get("media") or [], start=1)]
            append_turn(out, "user", blocks, "content")
    return out


def media_block(url: str, number: int) -> dict[str, Any]:
    """An image or document block for a ``data:`` URL or an ``s3://`` URI."""
    if url.startswith("data:"):
        mime, data = decode_data_url(url)
        source: dict[str, Any] = {"bytes": data}
        fmt = _IMAGE_FORMATS.get(mime) or _DOCUMENT_FORMATS.get(mime)
    elif url.startswith("s3://"):
        source = {"s3Location": {"uri": url}}
        fmt = _EXTENSION_FORMATS.get(url.rsplit(".", 1)[-1].lower())
    else:
        raise ProviderError(
            "Bedrock Converse cannot fetch media from a URL; attach it as a data: URL or an s3:// URI",
            retryable=False,
        )
    if fmt is None:
        raise ProviderError(
            f"Bedrock Converse does not accept this attachment type: {url[:60]!r}", retryable=False
        )
    if fmt in _IMAGE_FORMATS.values():
        return {"image": {"format": fmt, "source": source}}
    # Document names may only hold letters, digits, spaces, hyphens, parentheses and brackets.
    return {"document": {"format": fmt, "name": f"document-{number}", "source": source}}


def parse_converse_response(body: Any) -> LlmResponse:
    """Normalise a Converse response; raises KeyError/TypeError/... on a wrong shape."""
    if not isinstance(body, dict):
        raise TypeError("response is not an object")
    message = body["output"]["message"]
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[LlmToolCall] = []
    for block in message.get("content") or []:
        if "text" in block:
            texts.append(str(block["text"]))
        elif "toolUse" in block:
            tool_use = block["toolUse"]
            call_id = str(tool_use.get("toolUseId") or f"call_{uuid.uuid4().hex[:24]}")
            calls.append(
                LlmToolCall(
                    id=call_id, name=str(tool_use["name"]), arguments=json.dumps(tool_use.get("input", {}))
                )
            )
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"].get("reasoningText") or {}
            if reasoning.get("text"):
                thinking.append(str(reasoning["text"]))
    usage = body.get("usage") or {}
    cache_read = int(usage.get("cacheReadInputTokens") or 0)
    cache_write = int(usage.get("cacheWriteInputTokens") or 0)
    stop_reason = body.get("stopReason")
    return LlmResponse(
        content="".join(texts) if texts else None,
        tool_calls=calls,
        usage=LlmUsage(
            # Converse counts cache reads and writes apart from inputTokens; ours include them.
            prompt_tokens=int(usage.get("inputTokens") or 0) + cache_read + cache_write,
            completion_tokens=int(usage.get("outputTokens") or 0),
            cached_tokens=cache_read,
        ),
        finish_reason=_STOP_REASONS.get(stop_reason, stop_reason) if isinstance(stop_reason, str) else None,
        thinking="".join(thinking) or None,
    )


def classify_error(exc: BaseException) -> ProviderError:
    """Map a boto3/botocore exception onto a ProviderError (retryable or not)."""
    name = type(exc).__name__
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError: the service answered with an error
        error = response.get("Error") or {}
        code = str(error.get("Code") or name)
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        retryable = code in _RETRYABLE_CODES or (isinstance(status, int) and (status == 429 or status >= 500))
        where = f" (HTTP {status})" if isinstance(status, int) else ""
        return ProviderError(
            f"Bedrock returned {code}{where}: {error.get('Message') or exc}", retryable=retryable
        )
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return ProviderError(
            f"no usable AWS credentials for Bedrock ({name}): set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance/task role",
            retryable=False,
        )
    if name == "NoRegionError":
        return ProviderError("Bedrock needs a region: set AWS_REGION", retryable=False)
    if name in _RETRYABLE_TRANSPORT or isinstance(exc, ConnectionError | TimeoutError):
        return ProviderError(f"could not reach Bedrock: {name}: {exc}", retryable=True)
    return ProviderError(f"Bedrock call failed: {name}: {exc}", retryable=False)
