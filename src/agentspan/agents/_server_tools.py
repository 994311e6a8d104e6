"""Tools the server runs itself, with no worker: ``http_tool``, ``api_tool``,
``wait_for_message_tool``, ``pdf_tool``, the media tools (``image_tool``, ``audio_tool``,
``video_tool``), ``index_tool`` and ``search_tool``.

Each returns a ``ToolDef`` without a function; the server makes the HTTP calls
(docs/tools.md). ``${NAME}`` in a header value names a credential the server fills in
at call time; every name used so must be declared in ``credentials``.
"""

from __future__ import annotations

import re
from typing import Any

from agentspan._core.tool import ToolDef

__all__ = [
    "api_tool",
    "audio_tool",
    "http_tool",
    "image_tool",
    "index_tool",
    "pdf_tool",
    "search_tool",
    "video_tool",
    "wait_for_message_tool",
]

_PLACEHOLDER = re.compile(r"\$\{([^{}]+)\}")


def http_tool(
    name: str,
    description: str,
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    input_schema: dict[str, Any] | None = None,
    accept: list[str] | None = None,
    content_type: str = "application/json",
    credentials: list[Any] | None = None,
    *,
    timeout_seconds: float | None = None,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    retryable: bool = True,
) -> ToolDef:
    """One HTTP endpoint the server calls when the model uses the tool.

    The model's arguments fill ``{name}`` placeholders in ``url``; the rest go to the query
    string for GET, DELETE and HEAD and to a JSON body otherwise. The model gets the status
    and body back; an answer that is not 2xx is a tool error it sees. Each request carries
    an ``Idempotency-Key`` header, the same on every retry of one call.
    """
    _check_placeholders(name, headers, credentials)
    return ToolDef(
        name=name,
        description=description,
        input_schema=input_schema or {"type": "object", "properties": {}},
        tool_type="http",
        config={
            "url": url,
            "method": method.upper(),
            "headers": dict(headers or {}),
            "accept": list(accept or ["application/json"]),
            "contentType": content_type,
        },
        credentials=list(credentials or []),
        timeout_seconds=timeout_seconds,
        retry_count=retry_count,
        retry_delay_seconds=retry_delay_seconds,
        retryable=retryable,
    )


def api_tool(
    url: str,
    name: str | None = None,
    description: str | None = None,
    headers: dict[str, str] | None = None,
    tool_names: list[str] | None = None,
    max_tools: int = 64,
    credentials: list[Any] | None = None,
    *,
    timeout_seconds: float | None = None,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    retryable: bool = True,
) -> ToolDef:
    """A whole HTTP API: the server reads its OpenAPI 3, Swagger 2 or Postman description
    at ``url`` (or at a well-known path under it) when the agent starts, and offers the
    model one tool per operation, named after the operation.

    ``tool_names`` keeps only those operations; ``max_tools`` caps how many are offered
    (the first ones in the document's order). ``headers`` are sent with the document
    request and with every call.
    """
    if max_tools < 1:
        raise ValueError(f"api_tool {url!r}: max_tools must be at least 1, got {max_tools}")
    _check_placeholders(name or "api_tools", headers, credentials)
    config: dict[str, Any] = {"url": url, "max_tools": max_tools}
    if headers:
        config["headers"] = dict(headers)
    if tool_names is not None:
        config["tool_names"] = list(tool_names)
    return ToolDef(
        name=name or "api_tools",
        description=description or f"API tools from {url}",
        input_schema={"type": "object", "properties": {}},
        tool_type="api",
        config=config,
        credentials=list(credentials or []),
        timeout_seconds=timeout_seconds,
        retry_count=retry_count,
        retry_delay_seconds=retry_delay_seconds,
        retryable=retryable,
    )


def _check_placeholders(name: str, headers: dict[str, str] | None, credentials: list[Any] | None) -> None:
    """Every ``${NAME}`` in the headers must be a declared credential (as the reference
    SDK requires), so a typo fails here and not as a missing secret mid-run."""
    declared = {c if isinstance(c, str) else str(getattr(c, "env_var", c)) for c in credentials or []}
    used = _PLACEHOLDER.findall(str(headers or {}))
    missing = sorted({n for n in used if n not in declared})
    if missing:
        raise ValueError(
            f"tool {name!r}: header placeholders {missing} are not declared in credentials=[...]"
        )


def wait_for_message_tool(name: str, description: str, batch_size: int = 1, blocking: bool = True) -> ToolDef:
    """A tool whose call takes the messages sent to the run (``runtime.send_message``).

    The call returns ``{"messages": [...], "count": n}`` with up to ``batch_size`` messages
    (at most 100), oldest first, each taken by one call only. A blocking call waits,
    durably and with no worker, until a message comes (from any process, however much
    later); a non-blocking one returns what is queued, possibly nothing.
    """
    config: dict[str, Any] = {"batchSize": batch_size}
    if not blocking:
        config["blocking"] = False
    return ToolDef(
        name=name,
        description=description,
        input_schema={"type": "object", "properties": {}},
        tool_type="pull_workflow_messages",
        config=config,
    )


_PDF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "markdown": {"type": "string", "description": "The document, in markdown."},
        "pageSize": {"type": "string", "description": "A4, A3, A5, Letter or Legal.", "default": "A4"},
        "theme": {"type": "string", "description": "The look of the document.", "default": "default"},
        "baseFontSize": {"type": "number", "description": "Body text size in points.", "default": 11},
    },
    "required": ["markdown"],
}


def pdf_tool(
    name: str = "generate_pdf",
    description: str = "Generate a PDF document from markdown text.",
    input_schema: dict[str, Any] | None = None,
    **defaults: Any,
) -> ToolDef:
    """A tool that turns the model's markdown into a PDF, on the server (the server needs
    the ``pdf`` extra). ``defaults`` (``pageSize``, ``theme``, ``baseFontSize``) apply when
    the model leaves them out. The result is ``{"contentType", "pages", "sizeBytes",
    "url"}`` with the document as a ``data:application/pdf;base64,`` URL.
    """
    return ToolDef(
        name=name,
        description=description,
        input_schema=dict(input_schema or _PDF_SCHEMA),
        tool_type="generate_pdf",
        config={"taskType": "GENERATE_PDF", **defaults},
    )


_IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "description": "What the image shows."},
        "style": {"type": "string", "description": "The look (dall-e-3: vivid or natural)."},
        "width": {"type": "integer", "default": 1024},
        "height": {"type": "integer", "default": 1024},
        "size": {"type": "string", "description": "WIDTHxHEIGHT; wins over width and height."},
        "n": {"type": "integer", "default": 1, "description": "How many images (1 to 4)."},
        "outputFormat": {"type": "string", "default": "png", "description": "png, jpeg or webp."},
        "weight": {"type": "number", "description": "Not used by OpenAI."},
    },
    "required": ["prompt"],
}

_AUDIO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "What to say."},
        "voice": {
            "type": "string",
            "enum": ["alloy", "echo", "fable", "onyx", "nova", "shimmer"],
            "default": "alloy",
        },
        "speed": {"type": "number", "default": 1.0},
        "responseFormat": {
            "type": "string",
            "default": "mp3",
            "description": "mp3, opus, aac, flac, wav or pcm.",
        },
        "n": {"type": "integer", "default": 1},
    },
    "required": ["text"],
}

_VIDEO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string"},
        "inputImage": {"type": "string"},
        "duration": {"type": "number", "default": 5},
        "width": {"type": "integer", "default": 1280},
        "height": {"type": "integer", "default": 720},
        "fps": {"type": "integer", "default": 24},
        "outputFormat": {"type": "string", "default": "mp4"},
        "style": {"type": "string"},
        "motion": {"type": "string"},
        "seed": {"type": "integer"},
        "guidanceScale": {"type": "number"},
        "aspectRatio": {"type": "string"},
        "negativePrompt": {"type": "string"},
        "personGeneration": {"type": "string"},
        "resolution": {"type": "string"},
        "generateAudio": {"type": "boolean"},
        "size": {"type": "string"},
        "n": {"type": "integer", "default": 1},
        "maxDurationSeconds": {"type": "number"},
        "maxCostDollars": {"type": "number"},
    },
    "required": ["prompt"],
}


def _media_tool(
    tool_type: str,
    task_type: str,
    schema: dict[str, Any],
    name: str,
    description: str,
    llm_provider: str,
    model: str,
    input_schema: dict[str, Any] | None,
    defaults: dict[str, Any],
) -> ToolDef:
    return ToolDef(
        name=name,
        description=description,
        input_schema=dict(input_schema or schema),
        tool_type=tool_type,
        config={"taskType": task_type, "llmProvider": llm_provider, "model": model, **defaults},
    )


def image_tool(
    name: str,
    description: str,
    llm_provider: str,
    model: str,
    input_schema: dict[str, Any] | None = None,
    **defaults: Any,
) -> ToolDef:
    """A tool that makes images with the provider's image API, on the server
    (``llm_provider="openai"``, e.g. ``model="gpt-image-1"`` or ``"dall-e-3"``).
    ``defaults`` (``width``, ``height``, ``size``, ``n``, ``outputFormat``, ``style``) apply
    when the model leaves them out. The result names the stored file:
    ``{"url": "/api/agent/<id>/media/<mediaId>", "contentType", "sizeBytes"}``."""
    return _media_tool(
        "generate_image",
        "GENERATE_IMAGE",
        _IMAGE_SCHEMA,
        name,
        description,
        llm_provider,
        model,
        input_schema,
        defaults,
    )


def audio_tool(
    name: str,
    description: str,
    llm_provider: str,
    model: str,
    input_schema: dict[str, Any] | None = None,
    **defaults: Any,
) -> ToolDef:
    """A tool that turns text into speech with the provider's speech API, on the server
    (``llm_provider="openai"``, e.g. ``model="tts-1"``); the result names the stored file,
    as for ``image_tool``."""
    return _media_tool(
        "generate_audio",
        "GENERATE_AUDIO",
        _AUDIO_SCHEMA,
        name,
        description,
        llm_provider,
        model,
        input_schema,
        defaults,
    )


def video_tool(
    name: str,
    description: str,
    llm_provider: str,
    model: str,
    input_schema: dict[str, Any] | None = None,
    **defaults: Any,
) -> ToolDef:
    """A video-making tool, as the reference defines it. This server wires no provider's
    video API yet: an agent with one is refused at start, with a message saying so."""
    return _media_tool(
        "generate_video",
        "GENERATE_VIDEO",
        _VIDEO_SCHEMA,
        name,
        description,
        llm_provider,
        model,
        input_schema,
        defaults,
    )


_INDEX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "The text to store."},
        "docId": {
            "type": "string",
            "description": "The document's id: indexing the same id again replaces it.",
        },
        "metadata": {"type": "object", "description": "Anything to keep with the text."},
    },
    "required": ["text", "docId"],
}

_SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "What to look for."}},
    "required": ["query"],
}

SERVED_VECTOR_DBS = ("agentspan", "default")
"""``vector_db`` values served: the server's own database. Anything else is refused when
the agent starts (400 ``validation_failed`` naming the field), never stored elsewhere."""


def _rag_config(
    task_type: str,
    vector_db: str,
    index: str,
    embedding_model_provider: str | None,
    embedding_model: str | None,
    namespace: str,
    dimensions: int | None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "taskType": task_type,
        "vectorDB": vector_db,
        "namespace": namespace,
        "index": index,
    }
    if embedding_model_provider:
        config["embeddingModelProvider"] = embedding_model_provider
    if embedding_model:
        config["embeddingModel"] = embedding_model
    if dimensions is not None:
        config["dimensions"] = dimensions
    return config


def index_tool(
    name: str,
    description: str,
    vector_db: str,
    index: str,
    embedding_model_provider: str | None,
    embedding_model: str | None,
    namespace: str = "default_ns",
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
    dimensions: int | None = None,
    input_schema: dict[str, Any] | None = None,
) -> ToolDef:
    """A tool through which the model stores text in the server's semantic memory
    (``namespace``/``index``), under a ``docId``: indexing a ``docId`` again replaces what
    it held. With ``chunk_size`` the text is cut into chunks of that many characters
    (overlapping by ``chunk_overlap``). The server embeds the text with
    ``embedding_model_provider``/``embedding_model`` (none: the server's default
    ``AGENTSPAN_EMBEDDING_MODEL``, else stored for lexical search). ``vector_db`` must be
    ``"agentspan"``: the entries live in the server's database.
    """
    config = _rag_config(
        "LLM_INDEX_TEXT", vector_db, index, embedding_model_provider, embedding_model, namespace, dimensions
    )
    if chunk_size is not None:
        config["chunkSize"] = chunk_size
    if chunk_overlap is not None:
        config["chunkOverlap"] = chunk_overlap
    return ToolDef(
        name=name,
        description=description,
        input_schema=dict(input_schema or _INDEX_SCHEMA),
        tool_type="rag_index",
        config=config,
    )


def search_tool(
    name: str,
    description: str,
    vector_db: str,
    index: str,
    embedding_model_provider: str | None,
    embedding_model: str | None,
    namespace: str = "default_ns",
    max_results: int = 5,
    dimensions: int | None = None,
    input_schema: dict[str, Any] | None = None,
) -> ToolDef:
    """A tool through which the model searches the server's semantic memory
    (``namespace``/``index``): the ``max_results`` entries most relevant to its ``query``,
    each with its text, metadata, ``docId`` and score. Entries embedded by the named model
    rank by similarity; the others (or all, with no model) by shared words (BM25).
    """
    if not 1 <= max_results <= 50:
        raise ValueError(f"search_tool {name!r}: max_results must be from 1 to 50, got {max_results}")
    config = _rag_config(
        "LLM_SEARCH_INDEX", vector_db, index, embedding_model_provider, embedding_model, namespace, dimensions
    )
    config["maxResults"] = max_results
    return ToolDef(
        name=name,
        description=description,
        input_schema=dict(input_schema or _SEARCH_SCHEMA),
        tool_type="rag_search",
        config=config,
    )
