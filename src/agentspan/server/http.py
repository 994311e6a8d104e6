"""The HTTP protocol the server runs under uvicorn: uvicorn's own, with corked writes.

uvicorn writes a response's status line and headers in one ``send()`` and its body in
another. On loopback each ``send()`` wakes the peer, which then reads half a response and
sleeps again; for the small JSON bodies of the worker and client hot paths those extra
system calls and wake-ups cost more than the request's own work (see docs/benchmarks.md).
Here the head is held back until the body's write and both leave in one ``send()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import FrameType
from typing import Any, cast

import uvicorn


class CorkedTransport:
    """A transport wrapper that sends a response's head together with what follows it.

    Only the head (the status line and headers) is held back: the next write — the body —
    sends both at once. A head that nothing follows within this step of the event loop
    (a stream whose first chunk is not ready) goes out on its own at the end of the step.
    Every other write goes straight through, so a burst of writes to many connections
    (an event fanned out to many streams) never queues behind itself.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head + bytes(data))
        elif bytes(data[:5]) == b"HTTP/":
            self._head = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if self._head is None:
            return
        head, self._head = self._head, None
        if not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._head or b"")

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


class GracefulServer(uvicorn.Server):
    """uvicorn's server, telling the app the moment a stop signal arrives (``on_exit``,
    run on the event loop), before uvicorn waits for open requests: long polls and
    streams then answer at once instead of being cancelled when the grace period ends."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing is waiting
            asyncio.get_running_loop().call_soon_threadsafe(self._on_exit)
        super().handle_exit(sig, frame)
