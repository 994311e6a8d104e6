"""Fixtures shared by every test tier."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import AgentConfig, AgentRuntime
from agentspan.server.settings import Settings

from fakes.anthropic_server import FakeAnthropic
from fakes.gemini_server import FakeGemini
from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    """One fake OpenAI endpoint for the session; tests script it per test."""
    with FakeOpenAI() as fake:
        saved = {k: os.environ.get(k) for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
        os.environ["OPENAI_BASE_URL"] = fake.base_url
        os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key"
        try:
            yield fake
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[ThreadServer]:
    """A real server over HTTP, in a thread, with its own SQLite file."""
    data_dir: Path = tmp_path_factory.mktemp("server")
    settings = Settings(
        data_dir=data_dir,
        worker_lease_seconds=2.0,
        no_worker_after_seconds=1.0,
        watchdog_interval_seconds=0.2,
    )
    srv = ThreadServer(settings).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def runtime(server: ThreadServer) -> Iterator[AgentRuntime]:
    config = AgentConfig(server_url=server.api_url, auto_start_server=False)
    with AgentRuntime(config=config) as rt:
        yield rt


@pytest.fixture(scope="session")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake, _env(ANTHROPIC_BASE_URL=fake.base_url, ANTHROPIC_API_KEY="sk-ant-test"):
        yield fake


@pytest.fixture(scope="session")
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake, _env(GEMINI_BASE_URL=fake.base_url, GEMINI_API_KEY="gemini-test"):
        yield fake


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
