"""``AgentConfig``: SDK settings, from arguments or ``AGENTSPAN_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from agentspan.client._auth import API_KEY_VARIABLE, AUTH_KEY_VARIABLE


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return raw.lower() in ("true", "1", "yes")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def normalize_server_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if url.endswith("/api") else url + "/api"


@dataclass
class AgentConfig:
    """How the SDK reaches the server and runs workers."""

    server_url: str = "http://localhost:6767/api"
    api_key: str | None = None
    auth_key: str | None = None
    auth_secret: str | None = None
    llm_retry_count: int = 3
    worker_poll_interval_ms: int = 100
    worker_thread_count: int = 16
    auto_start_workers: bool = True
    auto_start_server: bool = True
    daemon_workers: bool = True
    auto_register_integrations: bool = False
    streaming_enabled: bool = True
    credential_strict_mode: bool = False
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        self.server_url = normalize_server_url(self.server_url)

    @property
    def api_secret(self) -> str | None:
        return self.auth_secret

    @property
    def root_url(self) -> str:
        """The server URL without the ``/api`` suffix (where ``/health`` lives)."""
        return self.server_url[: -len("/api")]

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_env(cls) -> AgentConfig:
        return cls(
            server_url=os.environ.get("AGENTSPAN_SERVER_URL") or "http://localhost:6767/api",
            api_key=os.environ.get(API_KEY_VARIABLE) or None,
            auth_key=os.environ.get(AUTH_KEY_VARIABLE) or None,
            auth_secret=os.environ.get("AGENTSPAN_AUTH_SECRET") or None,
            llm_retry_count=_int("AGENTSPAN_LLM_RETRY_COUNT", 3),
            worker_poll_interval_ms=_int("AGENTSPAN_WORKER_POLL_INTERVAL", 100),
            worker_thread_count=_int("AGENTSPAN_WORKER_THREADS", 16),
            auto_start_workers=_bool("AGENTSPAN_AUTO_START_WORKERS", True),
            auto_start_server=_bool("AGENTSPAN_AUTO_START_SERVER", True),
            daemon_workers=_bool("AGENTSPAN_DAEMON_WORKERS", True),
            auto_register_integrations=_bool("AGENTSPAN_INTEGRATIONS_AUTO_REGISTER", False),
            streaming_enabled=_bool("AGENTSPAN_STREAMING_ENABLED", True),
            credential_strict_mode=_bool("AGENTSPAN_CREDENTIAL_STRICT_MODE", False),
            log_level=(os.environ.get("AGENTSPAN_LOG_LEVEL") or "INFO").strip() or "INFO",
        )
