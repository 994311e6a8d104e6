"""The SDK's small HTTP/1.1 client (client/_wire.py) against raw asyncio servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from agentspan.client._wire import WireError, WirePool, usable_for

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return head.split("\r\n")[0], await reader.readexactly(length)


async def _serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    connections: list[int] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/api", connections


def _answer(status: str, body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def test_round_trip_keeps_the_connection_and_sends_the_body() -> None:
    seen: list[tuple[str, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line, body = await _read_request(reader)
            seen.append((line, body))
            writer.write(_answer("200 OK", b'{"ok":true}', "Content-Type: application/json\r\n"))

    async def scenario() -> list[int]:
        server, url, connections = await _serve(handler)
        pool = WirePool(url, {"X-Agentspan-Actor": "test"})
        try:
            for n in range(3):
                response = await pool.request(
                    "POST", "/tasks/poll", body=b'{"n":%d}' % n, params={"a": "b c"}
                )
                assert response.status == 200 and response.body == b'{"ok":true}'
        finally:
            await pool.aclose()
            server.close()
        return connections

    connections = asyncio.run(scenario())
    assert len(connections) == 1  # one keep-alive connection for all three
    assert seen[0] == ("POST /api/tasks/poll?a=b+c HTTP/1.1", b'{"n":0}')
    assert [body for _, body in seen] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


def test_a_connection_the_server_closed_is_replaced_and_the_request_sent_once() -> None:
    """Each connection serves one request; a second request on it is dropped unanswered
    (the race with a server closing an idle keep-alive connection). Whether the client
    sees the close before reusing the connection or only after sending, every request
    gets exactly one answer."""
    processed: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await _read_request(reader)
        processed.append(body)
        writer.write(_answer("200 OK", body))
        await writer.drain()
        await _read_request(reader)  # the next one arrives ... and is never answered

    async def scenario(pause: float) -> list[bytes]:
        server, url, _ = await _serve(handler)
        pool = WirePool(url, {})
        try:
            out = []
            for n in range(3):
                await asyncio.sleep(pause)
                out.append((await pool.request("POST", "/x", body=b"%d" % n)).body)
        finally:
            await pool.aclose()
            server.close()
        return out

    assert asyncio.run(scenario(0.0)) == [b"0", b"1", b"2"]
    assert processed == [b"0", b"1", b"2"]  # each processed exactly once


def test_chunked_and_close_delimited_bodies_and_no_content() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _ = await _read_request(reader)
        if "chunked" in line:
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            line, _ = await _read_request(reader)  # still usable afterwards
        if "empty" in line:
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            line, _ = await _read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        await writer.drain()

    async def scenario() -> list[tuple[int, bytes]]:
        server, url, _ = await _serve(handler)
        pool = WirePool(url, {})
        try:
            out = []
            for path in ("/chunked", "/empty", "/eof"):
                response = await pool.request("GET", path)
                out.append((response.status, response.body))
        finally:
            await pool.aclose()
            server.close()
        return out

    assert asyncio.run(scenario()) == [(200, b"hello world"), (204, b""), (200, b"until the end")]


def test_no_answer_in_time_and_nobody_listening_are_wire_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    async def scenario() -> None:
        server, url, _ = await _serve(silent)
        pool = WirePool(url, {})
        try:
            with pytest.raises(WireError, match="no answer within"):
                await pool.request("GET", "/slow", timeout=0.2)
        finally:
            await pool.aclose()
            server.close()
        port = server.sockets[0].getsockname()[1] if server.sockets else 9
        await server.wait_closed()
        closed = WirePool(f"http://127.0.0.1:{port}", {})
        with pytest.raises(WireError, match="cannot connect"):
            await closed.request("GET", "/health")

    asyncio.run(scenario())


def test_a_burst_of_concurrent_requests_all_get_answers() -> None:
    """100 heartbeats at once (100 tools started together): every one is answered, each
    on a connection of its own or a reused one, never more connections than requests."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            _, body = await _read_request(reader)
            await asyncio.sleep(0.01)
            writer.write(_answer("200 OK", body))

    async def scenario() -> tuple[list[bytes], int]:
        server, url, connections = await _serve(handler)
        pool = WirePool(url, {})
        try:
            for _ in range(2):
                answers = await asyncio.gather(
                    *(pool.request("POST", "/beat", body=b"%d" % n) for n in range(100))
                )
        finally:
            await pool.aclose()
            server.close()
        return [a.body for a in answers], len(connections)

    bodies, connections = asyncio.run(scenario())
    assert bodies == [b"%d" % n for n in range(100)]
    assert connections <= 150  # the second burst reuses most of the first's (50 kept idle)


def test_proxies_from_the_environment_send_requests_through_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert usable_for("http://127.0.0.1:6767/api")
    assert not usable_for("unix:///tmp/x")
    assert not usable_for("https://agentspan.example.com/api")  # TLS stays with httpx
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    assert not usable_for("http://agentspan.internal:6767/api")
    monkeypatch.setenv("NO_PROXY", "agentspan.internal")
    assert usable_for("http://agentspan.internal:6767/api")


def test_a_start_with_an_idempotency_key_is_sent_again_after_a_dropped_connection() -> None:
    """The server takes the request and dies before answering (the connection drops): the
    SDK sends the same start again — safe, since the key finds the execution the first one
    may have created — and returns the answer. Without a key it reports the failure."""
    from agentspan.agents import AgentAPIError
    from agentspan.client._http import ApiClient

    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await _read_request(reader)
        seen.append(body)
        if len(seen) % 2 == 1:
            return  # dropped without an answer
        writer.write(_answer("200 OK", b'{"executionId":"e1","agentName":"a"}'))
        await writer.drain()

    async def scenario() -> None:
        server, url, _ = await _serve(handler)
        client = ApiClient(url)
        try:
            started = await client.start({"prompt": "hi", "idempotencyKey": "k1"})
            assert started["executionId"] == "e1"
            assert len(seen) == 2 and seen[0] == seen[1]
            with pytest.raises(AgentAPIError) as info:
                await client.start({"prompt": "no key"})
            assert info.value.status_code == 0
            assert len(seen) == 3
        finally:
            await client.aclose()
            server.close()

    asyncio.run(scenario())
