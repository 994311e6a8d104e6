"""A small HTTP/1.1 client for the SDK's JSON requests to the server.

Why not httpx for these: a worker makes two requests per tool step and ``run()`` one
per run, and on a small machine httpx spent ~1.3 ms of CPU per request against ~0.07 ms
here (bench/, docs/benchmarks.md). Worse, under a burst of ~100 concurrent requests
(heartbeats of 100 tools started together) httpcore's pool hands the same idle
connection to every waiter and retries the losers, so requests waited seconds before
sending a byte — longer than a short lease (encode/httpcore#822). Here each request takes
an idle connection of its own or opens one, and writes its request in one ``send()``.

Scope: plain ``http://`` to the server, no proxy (``ApiClient`` keeps httpx for
``https://`` — its certificate handling stays the one users configure —, for proxied URLs
and for the event stream). Keep-alive connections idle for longer
than ``IDLE_REUSE_SECONDS`` are not reused, which stays under uvicorn's keep-alive timeout
(5 s), so a server closing an idle connection does not race a request sent on it; if a
reused connection still fails before any byte of the answer arrives, the request is sent
once more on a fresh connection (the server never saw it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

IDLE_REUSE_SECONDS = 4.0
_MAX_HEADER_BYTES = 64 * 1024


class WireError(Exception):
    """The request did not get an answer (connection refused, reset, timed out)."""


@dataclass(slots=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)

    def reusable(self) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < IDLE_REUSE_SECONDS
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def usable_for(base_url: str) -> bool:
    """True when requests to ``base_url`` can go direct (plain http, no proxy applies)."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname))


class WirePool:
    """Keep-alive connections to one server; at most ``max_connections`` at once."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        max_connections: int = 200,
        max_idle: int = 50,
        connect_timeout: float = 5.0,
    ) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        fixed = {"Host": host_header, "Accept": "application/json", "User-Agent": "agentspan-sdk", **headers}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("utf-8")
        self._idle: list[_Connection] = []
        self._max_idle = max_idle
        self._slots = asyncio.Semaphore(max_connections)
        self._connect_timeout = connect_timeout
        self._closed = False

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: dict[str, object] | None = None,
        timeout: float | None = None,
    ) -> WireResponse:
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        head = f"{method} {target} HTTP/1.1\r\n".encode() + self._fixed
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        elif method in ("POST", "PUT", "PATCH"):
            head += b"Content-Length: 0\r\n"
        message = head + b"\r\n" + (body or b"")
        async with self._slots:
            try:
                async with asyncio.timeout(timeout):
                    return await self._exchange(message, method)
            except TimeoutError:
                raise WireError(f"no answer within {timeout}s") from None

    async def _exchange(self, message: bytes, method: str) -> WireResponse:
        conn, reused = self._take_idle(), True
        if conn is None:
            conn, reused = await self._connect(), False
        try:
            try:
                conn.writer.write(message)
                response, keep = await _read_response(conn.reader, method)
            except _NothingReceived:
                if not reused:
                    raise
                conn.close()  # the server had closed it: the request never arrived
                conn = await self._connect()
                conn.writer.write(message)
                response, keep = await _read_response(conn.reader, method)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, (OSError, asyncio.IncompleteReadError, _NothingReceived, ValueError)):
                raise WireError(f"{type(exc).__name__}: {exc}") from exc
            raise
        if keep and not self._closed and len(self._idle) < self._max_idle:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        return response

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable():
                return conn
            conn.close()
        return None

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self._host, self._port, limit=_MAX_HEADER_BYTES
                )
        except (OSError, TimeoutError) as exc:
            raise WireError(f"cannot connect to {self._host}:{self._port}: {exc!r}") from exc
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _NothingReceived(Exception):
    """The connection ended before the first byte of an answer."""


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[WireResponse, bool]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _NothingReceived("connection closed before an answer") from None
        raise
    except ConnectionError as exc:
        raise _NothingReceived(str(exc)) from None
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status = int(rest[:3])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return WireResponse(status, headers, b""), keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body, keep = await reader.read(-1), False  # the end of the connection ends the body
    return WireResponse(status, headers, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
