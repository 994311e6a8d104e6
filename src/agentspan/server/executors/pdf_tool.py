"""``PdfToolExecutor``: calls of ``pdf_tool`` (tool type ``generate_pdf``).

The model sends markdown (and, optionally, ``pageSize``, ``theme``, ``baseFontSize``; the
tool's config gives the defaults); the server renders it (``pdf_render.py``, in a thread:
it is CPU work) and returns the document inline as a ``data:application/pdf;base64,``
URL with its page count and size. Rendering has no outside effect, so a call lost with
its server is simply made again (the engine's rule for lost leases).

Bounds: the markdown (``AGENTSPAN_PDF_MAX_MARKDOWN_BYTES``, default 256 KiB) and the PDF
(``AGENTSPAN_PDF_MAX_BYTES``, default 1 MiB: the document is part of the conversation).
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

from agentspan.protocol.spec import PdfTool
from agentspan.server.executors.base import ExecutorContext
from agentspan.server.executors.pdf_render import PAGE_SIZES, THEMES, PdfUnavailable, render, unicode_font_dir
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor

_DEFAULTS: dict[str, Any] = {"pageSize": "A4", "theme": "default", "baseFontSize": 11}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else default


class PdfToolExecutor(ToolExecutor):
    kind = "generate_pdf"
    concurrency = 2  # CPU-bound: a few at a time, in threads
    lease_seconds = 60.0

    def __init__(self, max_markdown_bytes: int | None = None, max_pdf_bytes: int | None = None) -> None:
        self.max_markdown_bytes = max_markdown_bytes or _env_int(
            "AGENTSPAN_PDF_MAX_MARKDOWN_BYTES", 256 * 1024
        )
        self.max_pdf_bytes = max_pdf_bytes or _env_int("AGENTSPAN_PDF_MAX_BYTES", 1024 * 1024)

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        args = {**_DEFAULTS, **await _defaults_of(call, ctx), **call.args}
        markdown = args.get("markdown")
        if not isinstance(markdown, str) or not markdown.strip():
            raise ToolCallError("give the document as 'markdown' (a non-empty string)", retryable=False)
        size = len(markdown.encode())
        if size > self.max_markdown_bytes:
            raise ToolCallError(
                f"the markdown has {size} bytes, over this server's limit of {self.max_markdown_bytes} "
                "(AGENTSPAN_PDF_MAX_MARKDOWN_BYTES)",
                retryable=False,
            )
        page_size, theme, font_size = args.get("pageSize"), args.get("theme"), args.get("baseFontSize")
        if page_size not in PAGE_SIZES:
            raise ToolCallError(f"pageSize must be one of {', '.join(PAGE_SIZES)}", retryable=False)
        if theme not in THEMES:
            raise ToolCallError(f"theme must be one of {', '.join(THEMES)} on this server", retryable=False)
        if not isinstance(font_size, int | float) or not 4 <= font_size <= 72:
            raise ToolCallError("baseFontSize must be a number from 4 to 72", retryable=False)
        try:
            rendered = await asyncio.to_thread(
                render,
                markdown,
                page_size=page_size,
                base_font_size=float(font_size),
                font_dir=unicode_font_dir(),
            )
        except PdfUnavailable as exc:
            raise ToolCallError(str(exc), retryable=False) from None
        if len(rendered.data) > self.max_pdf_bytes:
            raise ToolCallError(
                f"the PDF has {len(rendered.data)} bytes, over this server's limit of {self.max_pdf_bytes} "
                "(AGENTSPAN_PDF_MAX_BYTES)",
                retryable=False,
            )
        result: dict[str, Any] = {
            "contentType": "application/pdf",
            "pages": rendered.pages,
            "sizeBytes": len(rendered.data),
            "url": "data:application/pdf;base64," + base64.b64encode(rendered.data).decode(),
        }
        if rendered.warnings:
            result["warnings"] = rendered.warnings
        return result


async def _defaults_of(call: ToolCall, ctx: ExecutorContext) -> dict[str, Any]:
    """The tool's configured defaults (wire names), from the execution's stored spec."""
    row = await ctx.store.get_execution(call.execution_id)
    if row is None:
        raise ToolCallError(f"execution {call.execution_id} is gone", retryable=False)
    for tool in (await ctx.spec_of(row)).tools:
        if tool.name == call.name and isinstance(tool, PdfTool):
            config = tool.config.model_dump(by_alias=True, exclude_none=True)
            return {k: v for k, v in config.items() if k in _DEFAULTS}
    return {}
