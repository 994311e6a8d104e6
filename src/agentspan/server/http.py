"""The HTTP protocol the server runs under uvicorn: uvicorn's own, with corked writes.

uvicorn writes a response's status line and headers in one ``send()`` and its body in
another. On loopback each ``send()`` wakes the peer, which then reads half a response and
sleeps again; for the small JSON bodies of the worker and client hot paths those extra
system calls and wake-ups cost more than the request's own work (see docs/benchmarks.md).
Here every write made during one step of the event loop is buffered and leaves in a
single ``send()`` at the end of that step, which adds no waiting.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast


class CorkedTransport:
    """A transport wrapper that coalesces the writes of one event-loop step."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def __getattr__(self, name: str) -> Any:
        # Everything else (flow control, extra info, abort) is the real transport's.
        return getattr(self._transport, name)


def protocol_class() -> Any:
    """The protocol class for ``uvicorn.run(http=...)``: corked httptools when it is
    installed, else uvicorn's default choice."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools (e.g. Windows): uvicorn's pure-Python parser
        return "auto"

    class CorkedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(cast(asyncio.Transport, CorkedTransport(transport)))

    return CorkedHttpToolsProtocol
