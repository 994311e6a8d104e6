"""server/http.py: a response's head leaves with its body, other writes pass straight through."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from agentspan.server.http import CorkedTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.sends.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


def test_head_and_body_leave_in_one_send_and_stream_chunks_pass_through() -> None:
    async def scenario() -> list[bytes]:
        raw = RecordingTransport()
        corked = CorkedTransport(cast(asyncio.Transport, raw))
        corked.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert raw.sends == [] and corked.get_write_buffer_size() > 0
        corked.write(b"{}")
        corked.write(b"data: 1\n\n")  # no head waiting: straight through
        return raw.sends

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"data: 1\n\n"]


def test_a_head_alone_goes_out_at_the_end_of_the_loop_step_or_on_close() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes], bool]:
        raw = RecordingTransport()
        corked = CorkedTransport(cast(asyncio.Transport, raw))
        corked.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        await asyncio.sleep(0)  # the stream's first chunk is not ready yet
        after_step = list(raw.sends)
        other = RecordingTransport()
        closing = CorkedTransport(cast(asyncio.Transport, other))
        closing.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        closing.close()
        return after_step, other.sends, other.closed

    after_step, on_close, closed = asyncio.run(scenario())
    assert after_step == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]
    assert on_close == [b"HTTP/1.1 204 No Content\r\n\r\n"] and closed
