"""Server settings: the one place configuration is read from the environment."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
"""Bind addresses that only this machine can reach (then only loopback Host headers pass)."""


def default_data_dir() -> Path:
    return Path(os.environ.get("AGENTSPAN_DATA_DIR", str(Path.home() / ".agentspan")))


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


def _list_env(name: str) -> tuple[str, ...]:
    """A comma-separated variable as a tuple of its non-empty, trimmed items."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


def url_origin_and_path(url: str) -> tuple[str, str, str] | None:
    """``(scheme, host:port, path)`` of an http(s) URL, lower-cased where case does not
    matter and with the default port spelled out; None for anything else (user info
    included: ``http://good@evil`` must not look like ``good``)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    port = port or (443 if scheme == "https" else 80)
    return scheme, f"{parts.hostname.lower()}:{port}", parts.path.rstrip("/")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _master_key_env() -> str | None:
    """``AGENTSPAN_MASTER_KEY``, checked here so a malformed one stops the server at once."""
    raw = os.environ.get("AGENTSPAN_MASTER_KEY", "").strip()
    if not raw:
        return None
    try:
        key = base64.b64decode(raw.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError(
            "AGENTSPAN_MASTER_KEY must be base64 of exactly 32 bytes (generate one with: openssl rand -base64 32)"
        )
    return raw


@dataclass(slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 6767
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    """``sqlite:///path`` (default: ``<data_dir>/agentspan.db``)."""
    worker_lease_seconds: float = 10.0
    """How long a worker owns a task without a heartbeat. Short, so a dead worker is noticed fast."""
    llm_lease_seconds: float = 30.0
    no_worker_after_seconds: float = 30.0
    """A worker task nobody polls for this long is reported (event + status)."""
    watchdog_interval_seconds: float = 1.0
    llm_concurrency: int = 64
    llm_max_attempts: int = 5
    allowed_base_urls: tuple[str, ...] = ()
    """``AGENTSPAN_ALLOWED_BASE_URLS``: the URL prefixes an agent's own ``baseUrl`` may
    name. Empty (the default): a start naming any ``baseUrl`` is refused. An allowed
    caller URL is called without the server's provider keys."""
    max_request_bytes: int = 8 * 1024 * 1024
    """``AGENTSPAN_MAX_REQUEST_BYTES``: the largest request body the server reads (413
    beyond it). Bounds what one request can make the server hold in memory and store."""
    max_tools_per_agent: int = 1000
    """``AGENTSPAN_MAX_TOOLS_PER_AGENT``: tools one agent of a tree may offer its model."""
    max_agents_per_tree: int = 256
    """``AGENTSPAN_MAX_AGENTS_PER_TREE``: agents in one started tree, the root included
    (sub-agents, router agents and ``agent_tool`` agents, at any depth)."""
    max_agent_depth: int = 16
    """``AGENTSPAN_MAX_AGENT_DEPTH``: how deeply agents may nest (the root alone: 1)."""
    max_prompt_bytes: int = 1024 * 1024
    """``AGENTSPAN_MAX_PROMPT_BYTES``: the largest text a request may make model input
    (a start's prompt and media, an agent's instructions, a human's answer), in UTF-8 bytes."""
    max_parallel_tool_calls: int = 64
    """``AGENTSPAN_MAX_PARALLEL_TOOL_CALLS``: tool calls one model reply may have run; the
    calls past it are answered with an error the model sees (``engine/tool_calls.py``)."""
    auth_token: str | None = None
    """``AGENTSPAN_AUTH_TOKEN``: a bootstrap admin key that lives only in the server's
    environment. While it is set, or once any API key exists, or whenever the server
    binds a non-loopback address, every route but ``/health`` and the API description
    requires a key (docs/security.md)."""
    master_key: str | None = field(default=None, repr=False)
    """``AGENTSPAN_MASTER_KEY``: base64 of the 32-byte key that seals stored credentials.
    Unset: ``<data_dir>/master.key``, made 0600 when the first credential is stored
    (docs/credentials.md). Replicas sharing a database need the same key."""
    cors_origins: tuple[str, ...] = ()
    """``AGENTSPAN_CORS_ORIGINS``: web origins (``https://ui.example``) whose browser
    requests are served, with CORS headers. Empty (the default): CORS is off and any
    request with a foreign ``Origin`` is refused."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        settings = cls(
            database_url=os.environ.get("AGENTSPAN_DATABASE_URL") or None,
            worker_lease_seconds=_float_env("AGENTSPAN_WORKER_LEASE_SECONDS", 10.0),
            llm_lease_seconds=_float_env("AGENTSPAN_LLM_LEASE_SECONDS", 30.0),
            no_worker_after_seconds=_float_env("AGENTSPAN_NO_WORKER_TIMEOUT", 30.0),
            allowed_base_urls=_list_env("AGENTSPAN_ALLOWED_BASE_URLS"),
            cors_origins=_list_env("AGENTSPAN_CORS_ORIGINS"),
            auth_token=os.environ.get("AGENTSPAN_AUTH_TOKEN", "").strip() or None,
            master_key=_master_key_env(),
            max_request_bytes=_int_env("AGENTSPAN_MAX_REQUEST_BYTES", 8 * 1024 * 1024),
            max_tools_per_agent=_int_env("AGENTSPAN_MAX_TOOLS_PER_AGENT", 1000),
            max_agents_per_tree=_int_env("AGENTSPAN_MAX_AGENTS_PER_TREE", 256),
            max_agent_depth=_int_env("AGENTSPAN_MAX_AGENT_DEPTH", 16),
            max_prompt_bytes=_int_env("AGENTSPAN_MAX_PROMPT_BYTES", 1024 * 1024),
            max_parallel_tool_calls=_int_env("AGENTSPAN_MAX_PARALLEL_TOOL_CALLS", 64),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        settings.data_dir = Path(settings.data_dir).expanduser()
        return settings

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'agentspan.db'}"

    @property
    def loopback_only(self) -> bool:
        """True when the server binds an address only this machine can reach."""
        host = self.host.strip("[]").lower()
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host in LOOPBACK_HOSTS

    def base_url_allowed(self, url: str) -> bool:
        """True when ``url`` matches an ``allowed_base_urls`` prefix: scheme, host and port
        exactly, the path by whole segments."""
        wanted = url_origin_and_path(url)
        if wanted is None:
            return False
        for prefix in self.allowed_base_urls:
            allowed = url_origin_and_path(prefix)
            if allowed is None or allowed[:2] != wanted[:2]:
                continue
            if wanted[2] == allowed[2] or wanted[2].startswith(allowed[2] + "/"):
                return True
        return False
