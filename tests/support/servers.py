"""Start real Agentspan servers for tests: in a thread (fast) or as a process (killable)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from agentspan.server.app import create_app
from agentspan.server.http import protocol_class
from agentspan.server.observability import Observability
from agentspan.server.services import Services
from agentspan.server.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(root_url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            if httpx.get(root_url + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"server at {root_url} not healthy after {timeout}s")


class ThreadServer:
    """A real HTTP server on a free port, served by uvicorn in a background thread."""

    def __init__(self, settings: Settings, observability: Observability | None = None) -> None:
        self.settings = settings
        self.port = free_port()
        settings.port = self.port
        self.app = create_app(settings, observability=observability)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            http=protocol_class(),
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        """The running server's services (for tests that look inside)."""
        services: Services = self.app.state.services
        return services

    @property
    def api_url(self) -> str:
        return self.root_url + "/api"

    def start(self) -> ThreadServer:
        self._thread.start()
        wait_healthy(self.root_url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class ServerProcess:
    """``agentspan server run`` as a child process, so tests can kill it with real signals."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
        log_level: str = "warning",
    ) -> None:
        self.data_dir = data_dir
        self.log_level = log_level
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"server-{self.port}.log"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.root_url + "/api"

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        cmd = [
            sys.executable,
            "-m",
            "agentspan.cli",
            "server",
            "run",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            self.log_level,
        ]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_healthy(self.root_url, proc=self.proc)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
