"""A real MCP server for tests, built with the official SDK (``MCPServer``, v1's FastMCP).

Run it as a process: ``python tests/support/mcp_server.py --transport streamable-http
--port N --log calls.jsonl`` (or ``sse``, or ``stdio``). Every tool call appends one JSON
line to the log: the tool, the arguments that arrived, the request's ``_meta`` and the
HTTP headers the test cares about, so a test can check what the MCP server really saw.

``slow_write`` records its call, then waits until the file ``--gate`` exists: a test kills
the Agentspan server while the call hangs there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer

SEEN_HEADERS = ("authorization", "x-api-key")


def build(log: Path, gate: Path | None) -> MCPServer:
    server = MCPServer("agentspan-test-tools")

    def record(ctx: Context, tool: str, args: dict[str, Any]) -> None:
        headers = ctx.headers or {}
        meta = ctx.request_context.meta or {}
        line = {
            "tool": tool,
            "args": args,
            "meta": dict(meta),
            "headers": {k: v for k, v in headers.items() if k.lower() in SEEN_HEADERS},
            "pid": os.getpid(),
        }
        with log.open("a") as out:
            out.write(json.dumps(line) + "\n")

    @server.tool()
    def add(a: int, b: int, ctx: Context) -> int:
        """Add two whole numbers."""
        record(ctx, "add", {"a": a, "b": b})
        return a + b

    @server.tool()
    def shout(text: str, ctx: Context) -> str:
        """Upper-case a text."""
        record(ctx, "shout", {"text": text})
        return text.upper() + "!"

    @server.tool()
    def refuse(reason: str, ctx: Context) -> str:
        """Always fails with the reason given."""
        record(ctx, "refuse", {"reason": reason})
        raise ValueError(f"refused: {reason}")

    @server.tool()
    def big(size: int, ctx: Context) -> dict[str, str]:
        """A structured result of about ``size`` characters."""
        record(ctx, "big", {"size": size})
        return {"data": "x" * size}

    @server.tool()
    async def slow_write(key: str, ctx: Context) -> str:
        """Write a record; waits for the test's gate before answering."""
        record(ctx, "slow_write", {"key": key})
        # A test server polling for its gate file: not a hot path.
        while gate is not None and not os.path.exists(gate):  # noqa: ASYNC110, ASYNC240
            await anyio.sleep(0.05)
        return f"wrote {key}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["streamable-http", "sse", "stdio"], required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--gate", type=Path, default=None)
    opts = parser.parse_args()
    server = build(opts.log, opts.gate)
    if opts.transport == "stdio":
        server.run("stdio")
    elif opts.transport == "sse":
        server.run("sse", host="127.0.0.1", port=opts.port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=opts.port)


class McpServerProcess:
    """This module run as a real MCP server process over HTTP (streamable or SSE)."""

    def __init__(self, log: Path, transport: str = "streamable-http", gate: Path | None = None) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.log = log
        self.transport = transport
        self.gate = gate
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        path = "/sse" if self.transport == "sse" else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> McpServerProcess:
        self.proc = subprocess.Popen(
            [*stdio_command(self.log, self.gate, self.transport), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"MCP test server exited with {self.proc.returncode}")
            try:
                with socket_connection(self.port):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("MCP test server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def calls(self) -> list[dict[str, Any]]:
        """Every tool call the server received, in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def stdio_command(log: Path, gate: Path | None = None, transport: str = "stdio") -> list[str]:
    """The command line that runs this server (what an operator would allow for stdio)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--transport", transport, "--log", str(log)]
    return [*command, "--gate", str(gate)] if gate is not None else command


def socket_connection(port: int) -> Any:
    import socket

    return socket.create_connection(("127.0.0.1", port), timeout=0.5)


if __name__ == "__main__":
    main()
