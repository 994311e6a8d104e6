"""Start a local server when the SDK needs one and nothing answers.

Only for loopback URLs: a remote server is never started (or assumed) by the SDK.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from urllib.parse import urlparse

import httpx

from agentspan._core.errors import AgentspanError

log = logging.getLogger("agentspan")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]"})


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in LOOPBACK_HOSTS


def is_healthy(root_url: str, timeout: float = 2.0) -> bool:
    try:
        response = httpx.get(root_url + "/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code < 500


def ensure_server(root_url: str, *, auto_start: bool, wait_seconds: float = 60.0) -> None:
    """Make sure a server answers at ``root_url``, starting a local one if allowed."""
    if is_healthy(root_url):
        return
    if not is_loopback(root_url):
        raise AgentspanError(
            f"cannot reach the Agentspan server at {root_url}; it is not local, so it is not "
            "started automatically (check AGENTSPAN_SERVER_URL)"
        )
    if not auto_start:
        raise AgentspanError(
            f"no Agentspan server answers at {root_url} and auto-start is off; run: agentspan server start"
        )
    parsed = urlparse(root_url)
    host = parsed.hostname or "127.0.0.1"
    if host in ("localhost", "0.0.0.0"):
        host = "127.0.0.1"
    port = parsed.port or 6767
    print(f"[agentspan] starting a local server on {host}:{port} ...", file=sys.stderr)
    started = time.monotonic()
    cmd = [sys.executable, "-m", "agentspan.cli", "server", "start", "--host", host, "--port", str(port)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=wait_seconds + 10)
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        raise AgentspanError(f"could not start a local server: {reason[-1] if reason else proc.returncode}")
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if is_healthy(root_url, timeout=1.0):
            print(
                f"[agentspan] the local server is ready ({time.monotonic() - started:.1f}s); it keeps "
                f"running: browse http://{host}:{port}/, stop it with: agentspan server stop",
                file=sys.stderr,
            )
            return
        time.sleep(0.1)
    raise AgentspanError(f"the local server did not become healthy at {root_url} within {wait_seconds:.0f}s")
