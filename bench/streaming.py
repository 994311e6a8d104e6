"""Figure 5: how long an event takes from its commit to N SSE subscribers of one execution.

One server (no worker), one execution of ``agents.stream_agent``: it waits for an approval,
and each ``POST /agent/{id}/respond`` (a rejection) commits an ``approval`` event, after
which the server runs the next (scripted) model call itself and the execution waits again.
N raw-socket subscribers follow ``GET /agent/stream/{id}``. For every trigger and every
subscriber the latency of the ``approval`` frame is taken two ways, both on this process's
monotonic clock:

* *from return*: from the moment the ``respond`` call's response was complete — the commit
  happened before the server answered, so this is a lower bound of commit → delivery;
* *from send*: from just before the request was written — an upper bound (it includes
  the request's own handling and the commit).

The client is one asyncio loop of ``asyncio.Protocol`` subscribers that only timestamp and
buffer what arrives (frames are parsed after the run), so at N = 1,000 its reading of 1,000
sockets one after the other is part of the latency of the last subscriber; its CPU per
event is reported next to the server's.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import re
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import ours
from _common import cpu_seconds, percentile
from agents import stream_agent

from agentspan.agents._serialize import serialize_agent

FRAME = re.compile(rb"id:(\d+)\nevent:(\w+)\ndata:([^\n]*)\n")
WAIT_MARKERS = (b"event:waiting\n", b"event:done\n")
CONNECT_CONCURRENCY = 50
STEP_TIMEOUT = 60.0


def stats(values: list[float]) -> dict[str, Any]:
    """Median, p99, min, max and count of a sample (ms)."""
    return {
        "median": statistics.median(values),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


@dataclass
class Frame:
    seq: int
    type: str
    data: bytes
    arrived: float


class Subscriber(asyncio.Protocol):
    """One SSE connection: timestamps and buffers what arrives, nothing else on the clock."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buf = bytearray()
        self.lengths: list[int] = []  # cumulative length after each read ...
        self.times: list[float] = []  # ... and when that read happened
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._want_from = 0
        self._on_found: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter()
        self.buf += data
        self.lengths.append(len(self.buf))
        self.times.append(t)
        if self._on_found is not None:
            self._check()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._on_found is not None:
            self._check()

    def expect(self, offset: int, on_found: Callable[[], None]) -> None:
        """Call ``on_found`` once a ``waiting``/``done`` frame is in the buffer after ``offset``."""
        self._want_from = offset
        self._on_found = on_found
        self._check()

    def _check(self) -> None:
        if any(self.buf.find(m, self._want_from) != -1 for m in WAIT_MARKERS) or self.closed:
            callback, self._on_found = self._on_found, None
            if callback is not None:
                callback()
        else:
            self._want_from = max(self._want_from, len(self.buf) - 16)

    def first_frame_after(self, offset: int) -> Frame | None:
        """The first event frame after ``offset``, with the time its last byte arrived."""
        match = FRAME.search(self.buf, offset)
        if match is None:
            return None
        i = bisect.bisect_left(self.lengths, match.end())
        return Frame(int(match.group(1)), match.group(2).decode(), bytes(match.group(3)), self.times[i])


class Trigger(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection for ``POST /respond``; notes when each response is complete."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.done: asyncio.Future[tuple[float, int]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter()
        self.buf += data
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end == -1 or self.done is None or self.done.done():
            return
        head = bytes(self.buf[:head_end]).decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buf) >= head_end + 4 + length:
            status = int(head.split(" ", 2)[1])
            del self.buf[: head_end + 4 + length]
            self.done.set_result((t, status))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"trigger connection lost: {exc}"))

    async def post(self, path: str, body: bytes) -> tuple[float, float, float]:
        """Send the request; returns when it was sent and when the response was complete
        (``perf_counter``), and when it was sent by the wall clock. Raises on a non-2xx."""
        assert self.transport is not None
        self.done = asyncio.get_running_loop().create_future()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        sent, sent_wall = time.perf_counter(), time.time()
        self.transport.write(request)
        returned, status = await asyncio.wait_for(self.done, STEP_TIMEOUT)
        if not 200 <= status < 300:
            raise AssertionError(f"POST {path} answered {status}")
        return sent, returned, sent_wall


@dataclass
class Level:
    """The samples of one subscriber count."""

    from_return: list[float] = field(default_factory=list)
    from_send: list[float] = field(default_factory=list)
    last_from_return: list[float] = field(default_factory=list)
    last_from_send: list[float] = field(default_factory=list)
    respond_ms: list[float] = field(default_factory=list)
    stamped_ms: list[float] = field(default_factory=list)


async def _all_waiting(subs: list[Subscriber], offsets: list[int]) -> None:
    """Until every subscriber has a ``waiting`` (or ``done``) frame after its offset."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    pending = [len(subs)]

    def one() -> None:
        pending[0] -= 1
        if pending[0] == 0 and not finished.done():
            finished.set_result(None)

    for sub, offset in zip(subs, offsets, strict=True):
        sub.expect(offset, one)
    try:
        await asyncio.wait_for(finished, STEP_TIMEOUT)
    except TimeoutError:
        behind = sum(1 for s in subs if s._on_found is not None)
        raise AssertionError(f"{behind} of {len(subs)} subscribers got no waiting frame in time") from None
    lost = [s for s in subs if s.closed and not any(m in s.buf for m in WAIT_MARKERS)]
    if lost:
        raise AssertionError(f"{len(lost)} subscribers were disconnected: {bytes(lost[0].buf[:200])!r}")


async def _quiet(pid: int, timeout: float = 3.0) -> None:
    """Until the server used (almost) no CPU for 50 ms: its streams are all waiting again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.05)
        if cpu_seconds(pid) - before <= 0.011:  # one clock tick of noise
            return


async def _connect(host: str, port: int, request: bytes, n: int) -> list[Subscriber]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Subscriber:
        async with sem:
            _, sub = await loop.create_connection(lambda: Subscriber(request), host, port)
            return sub

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def _level(api_url: str, pid: int, subscribers: int, events: int, warmup: int) -> dict[str, Any]:
    agent = stream_agent(events + warmup)
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        body = {"agentConfig": serialize_agent(agent).wire(), "prompt": "stream"}
        response = await client.post("/agent/start", json=body)
        response.raise_for_status()
        execution_id = response.json()["executionId"]
    url = httpx.URL(api_url)
    host, port = url.host, url.port or 80
    request = (
        f"GET {url.path}/agent/stream/{execution_id} HTTP/1.1\r\nHost: {host}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    connect_started = time.perf_counter()
    subs = await _connect(host, port, request, subscribers)
    await _all_waiting(subs, [0] * len(subs))  # each one has replayed the log up to the first wait
    connect_s = time.perf_counter() - connect_started
    if not all(s.buf.startswith(b"HTTP/1.1 200") for s in subs):
        raise AssertionError(f"a stream did not answer 200: {bytes(subs[0].buf[:200])!r}")
    loop = asyncio.get_running_loop()
    _, trigger = await loop.create_connection(Trigger, host, port)
    level = Level()
    reject = b'{"approved": false, "reason": "bench"}'
    cpu = (0.0, 0.0)
    try:
        for i in range(warmup + events):
            await _quiet(pid)
            if i == warmup:
                cpu = (cpu_seconds(pid), time.process_time())
            offsets = [len(s.buf) for s in subs]
            sent, returned, sent_wall = await trigger.post(f"{url.path}/agent/{execution_id}/respond", reject)
            await _all_waiting(subs, offsets)
            if i >= warmup:
                _record(level, subs, offsets, (sent, returned, sent_wall))
        server_cpu = cpu_seconds(pid) - cpu[0]
        client_cpu = time.process_time() - cpu[1]
    finally:
        if trigger.transport is not None:
            trigger.transport.close()
        for sub in subs:
            if sub.transport is not None:
                sub.transport.close()
    return {
        "subscribers": subscribers,
        "events": events,
        "connect_s": connect_s,
        "from_return_ms": stats(level.from_return),
        "from_send_ms": stats(level.from_send),
        "last_from_return_ms": stats(level.last_from_return),
        "last_from_send_ms": stats(level.last_from_send),
        "respond_ms": stats(level.respond_ms),
        "stamped_after_send_ms": stats(level.stamped_ms),
        "server_cpu_ms_per_event": server_cpu * 1000 / events,
        "client_cpu_ms_per_event": client_cpu * 1000 / events,
    }


def _record(
    level: Level, subs: list[Subscriber], offsets: list[int], times: tuple[float, float, float]
) -> None:
    sent, returned, sent_wall = times
    arrivals = []
    for sub, offset in zip(subs, offsets, strict=True):
        frame = sub.first_frame_after(offset)
        if frame is None or frame.type != "approval":
            raise AssertionError(f"expected an approval frame first after the trigger, got {frame}")
        arrivals.append(frame.arrived)
        if len(arrivals) == 1:  # the server's own clock: when it began applying the response
            level.stamped_ms.append(json.loads(frame.data)["timestamp"] - sent_wall * 1000)
    level.from_return += [(t - returned) * 1000 for t in arrivals]
    level.from_send += [(t - sent) * 1000 for t in arrivals]
    level.last_from_return.append((max(arrivals) - returned) * 1000)
    level.last_from_send.append((max(arrivals) - sent) * 1000)
    level.respond_ms.append((returned - sent) * 1000)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when it is installed (it is, with the server's dependencies): the client's own
    cost per read is then a few microseconds, so it adds little to the fan-out it measures."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        raise RuntimeError(f"need {needed} open files for the subscribers, the limit is {soft}")


def streaming(backend: str, subscribers: list[int], events: int, warmup: int = 2) -> dict[str, Any]:
    """One server; for each N a new execution with N subscribers and ``events`` timed triggers."""
    _raise_fd_limit(2 * max(subscribers) + 256)  # inherited by the server, which holds the other ends
    levels: dict[int, Any] = {}
    with ours.stack(backend, workers=0) as st:
        for n in subscribers:
            try:
                with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                    levels[n] = runner.run(_level(st.server.api_url, st.server.pid, n, events, warmup))
            except (AssertionError, OSError, httpx.HTTPError, TimeoutError) as exc:
                levels[n] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            with contextlib.suppress(Exception):
                print(f"    N={n}: {_line(levels[n])}", flush=True)
    if all("error" in v for v in levels.values()):
        return {"error": next(iter(levels.values()))["error"]}
    return {"levels": levels}


def _line(level: dict[str, Any]) -> str:
    if "error" in level:
        return f"failed: {level['error']}"
    r, last = level["from_send_ms"], level["last_from_send_ms"]
    return (
        f"from send: median {r['median']:.2f} ms, p99 {r['p99']:.2f} ms, "
        f"last subscriber median {last['median']:.2f} ms; respond {level['respond_ms']['median']:.2f} ms"
    )
