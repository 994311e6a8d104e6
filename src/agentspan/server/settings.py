"""Server settings: the one place configuration is read from the environment."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from agentspan.server.providers.context_windows import DEFAULT_CONTEXT_WINDOW

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


def _stdio_commands_env(name: str) -> dict[str, tuple[str, ...]]:
    """``name=command line`` entries separated by ``;`` (each command line split as a shell
    would, without running one)."""
    commands: dict[str, tuple[str, ...]] = {}
    for entry in os.environ.get(name, "").split(";"):
        if not entry.strip():
            continue
        label, sep, command = entry.partition("=")
        argv = tuple(shlex.split(command))
        if not sep or not label.strip() or not argv:
            raise ValueError(f"{name}: each entry must be NAME=COMMAND [ARGS...], got {entry.strip()!r}")
        commands[label.strip()] = argv
    return commands


def _windows_env(name: str) -> dict[str, int]:
    """``model=tokens`` entries separated by commas (``AGENTSPAN_CONTEXT_WINDOWS``)."""
    windows: dict[str, int] = {}
    for entry in _list_env(name):
        model, sep, tokens = entry.partition("=")
        if not sep or not model.strip() or not tokens.strip().isdigit() or int(tokens) < 1:
            raise ValueError(f"{name}: each entry must be MODEL=TOKENS, got {entry!r}")
        windows[model.strip()] = int(tokens)
    return windows


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


def _seconds_env(name: str, default: float) -> float:
    """A positive, finite number of seconds (a zero or infinite limit is no limit)."""
    value = _float_env(name, default)
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds, got {value}")
    return value


@dataclass(slots=True)
class HttpToolSettings:
    """What server-side HTTP tools (``http_tool``, ``api_tool``) may do (docs/tools.md)."""

    allowed_urls: tuple[str, ...] = ()
    """``AGENTSPAN_HTTP_TOOL_ALLOWED_URLS``: URL prefixes HTTP tools and API documents may
    name. Empty (the default): any http(s) URL but link-local and cloud-metadata
    addresses; set: only matching URLs, and a listed one may be link-local."""
    timeout_seconds: float = 30.0
    """``AGENTSPAN_HTTP_TOOL_TIMEOUT_SECONDS``: a call's time limit when its tool sets none."""
    max_response_bytes: int = 256 * 1024
    """``AGENTSPAN_HTTP_TOOL_MAX_RESPONSE_BYTES``: the most of a response body a call
    keeps (the model is told where it was cut)."""
    lease_seconds: float = 30.0
    """``AGENTSPAN_HTTP_TOOL_LEASE_SECONDS``: a call's lease (renewed while it runs; a
    dead server's call is re-run this long after)."""
    max_document_bytes: int = 8 * 1024 * 1024
    """``AGENTSPAN_API_TOOL_MAX_DOCUMENT_BYTES``: the largest API description read."""
    discovery_seconds: float = 20.0
    """``AGENTSPAN_API_TOOL_DISCOVERY_SECONDS``: the time ``api_tool`` discovery may take
    at start, all documents of one request together."""

    @classmethod
    def from_env(cls) -> HttpToolSettings:
        return cls(
            allowed_urls=_list_env("AGENTSPAN_HTTP_TOOL_ALLOWED_URLS"),
            timeout_seconds=_seconds_env("AGENTSPAN_HTTP_TOOL_TIMEOUT_SECONDS", 30.0),
            max_response_bytes=_int_env("AGENTSPAN_HTTP_TOOL_MAX_RESPONSE_BYTES", 256 * 1024),
            lease_seconds=_seconds_env("AGENTSPAN_HTTP_TOOL_LEASE_SECONDS", 30.0),
            max_document_bytes=_int_env("AGENTSPAN_API_TOOL_MAX_DOCUMENT_BYTES", 8 * 1024 * 1024),
            discovery_seconds=_seconds_env("AGENTSPAN_API_TOOL_DISCOVERY_SECONDS", 20.0),
        )

    def url_allowed(self, url: str) -> bool:
        """True when ``url`` matches an ``allowed_urls`` prefix (as ``url_matches``)."""
        return url_matches(url, self.allowed_urls)


def url_matches(url: str, prefixes: tuple[str, ...]) -> bool:
    """True when ``url`` matches one of ``prefixes``: scheme, host and port exactly, the
    path by whole segments."""
    wanted = url_origin_and_path(url)
    if wanted is None:
        return False
    for prefix in prefixes:
        allowed = url_origin_and_path(prefix)
        if allowed is None or allowed[:2] != wanted[:2]:
            continue
        if wanted[2] == allowed[2] or wanted[2].startswith(allowed[2] + "/"):
            return True
    return False


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
    max_message_bytes: int = 64 * 1024
    """``AGENTSPAN_MAX_MESSAGE_BYTES``: the largest message ``send_message`` (or a signal)
    may carry, as UTF-8 JSON bytes."""
    max_queued_messages: int = 1000
    """``AGENTSPAN_MAX_QUEUED_MESSAGES``: messages an execution may have waiting for a
    ``wait_for_message_tool`` call; one more is refused (429 ``queue_full``)."""
    auth_token: str | None = None
    """``AGENTSPAN_AUTH_TOKEN``: a bootstrap admin key that lives only in the server's
    environment. While it is set, or once any API key exists, or whenever the server
    binds a non-loopback address, every route but ``/health`` and the API description
    requires a key (docs/security.md)."""
    master_key: str | None = field(default=None, repr=False)
    """``AGENTSPAN_MASTER_KEY``: base64 of the 32-byte key that seals stored credentials.
    Unset: ``<data_dir>/master.key``, made 0600 when the first credential is stored
    (docs/credentials.md). Replicas sharing a database need the same key."""
    prompt_templates_dir: Path | None = None
    """``AGENTSPAN_PROMPT_TEMPLATES_DIR``: where prompt templates are (``<name>.txt``,
    ``<name>.v<N>.txt``); default ``<data_dir>/prompts``."""
    cors_origins: tuple[str, ...] = ()
    """``AGENTSPAN_CORS_ORIGINS``: web origins (``https://ui.example``) whose browser
    requests are served, with CORS headers. Empty (the default): CORS is off and any
    request with a foreign ``Origin`` is refused."""
    http_tools: HttpToolSettings = field(default_factory=HttpToolSettings)
    """Limits and destinations of server-side HTTP tools."""
    mcp_stdio_commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """``AGENTSPAN_MCP_STDIO_COMMANDS``: the local MCP servers an agent may name as
    ``stdio:NAME`` (``NAME=command args;...``). A caller never supplies a command line: that
    would let anyone who may start an execution run programs on the server."""
    mcp_allowed_urls: tuple[str, ...] = ()
    """``AGENTSPAN_MCP_ALLOWED_URLS``: URL prefixes the MCP servers of an agent must match
    (as ``AGENTSPAN_ALLOWED_BASE_URLS``). Empty (the default): any http(s) MCP server."""
    mcp_list_ttl_seconds: float = 300.0
    """``AGENTSPAN_MCP_LIST_TTL_SECONDS``: how long an MCP server's tool listing is reused
    by later starts (a failed call drops it at once)."""
    mcp_lease_seconds: float = 30.0
    """``AGENTSPAN_MCP_LEASE_SECONDS``: the lease of an MCP call; after a crash, the call
    is re-run (or waits for a human) once this has run out."""
    context_windows: dict[str, int] = field(default_factory=dict)
    """``AGENTSPAN_CONTEXT_WINDOWS`` (``model-prefix=tokens,...``): context windows that
    override or add to the built-in table (``providers/context_windows.py``)."""
    default_context_window: int = DEFAULT_CONTEXT_WINDOW
    """``AGENTSPAN_DEFAULT_CONTEXT_WINDOW``: the window of a model in no table entry. A
    conversation that would not fit its model's window is condensed (docs/sdk.md)."""
    embedding_model: str | None = None
    """``AGENTSPAN_EMBEDDING_MODEL`` (``provider/model``, e.g. ``openai/text-embedding-3-small``):
    the model that embeds semantic-memory entries and queries when the caller names none;
    unset, a memory index is searched lexically (BM25) unless its caller gives a model."""
    max_memory_entries: int = 20_000
    """``AGENTSPAN_MAX_MEMORY_ENTRIES``: entries one memory index may hold (a search reads
    them all)."""

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
            http_tools=HttpToolSettings.from_env(),
            max_tools_per_agent=_int_env("AGENTSPAN_MAX_TOOLS_PER_AGENT", 1000),
            max_agents_per_tree=_int_env("AGENTSPAN_MAX_AGENTS_PER_TREE", 256),
            max_agent_depth=_int_env("AGENTSPAN_MAX_AGENT_DEPTH", 16),
            max_prompt_bytes=_int_env("AGENTSPAN_MAX_PROMPT_BYTES", 1024 * 1024),
            max_parallel_tool_calls=_int_env("AGENTSPAN_MAX_PARALLEL_TOOL_CALLS", 64),
            max_message_bytes=_int_env("AGENTSPAN_MAX_MESSAGE_BYTES", 64 * 1024),
            max_queued_messages=_int_env("AGENTSPAN_MAX_QUEUED_MESSAGES", 1000),
            mcp_stdio_commands=_stdio_commands_env("AGENTSPAN_MCP_STDIO_COMMANDS"),
            mcp_allowed_urls=_list_env("AGENTSPAN_MCP_ALLOWED_URLS"),
            mcp_list_ttl_seconds=_float_env("AGENTSPAN_MCP_LIST_TTL_SECONDS", 300.0),
            mcp_lease_seconds=_float_env("AGENTSPAN_MCP_LEASE_SECONDS", 30.0),
            context_windows=_windows_env("AGENTSPAN_CONTEXT_WINDOWS"),
            default_context_window=_int_env("AGENTSPAN_DEFAULT_CONTEXT_WINDOW", DEFAULT_CONTEXT_WINDOW),
            embedding_model=os.environ.get("AGENTSPAN_EMBEDDING_MODEL", "").strip() or None,
            max_memory_entries=_int_env("AGENTSPAN_MAX_MEMORY_ENTRIES", 20_000),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        settings.data_dir = Path(settings.data_dir).expanduser()
        templates = os.environ.get("AGENTSPAN_PROMPT_TEMPLATES_DIR", "").strip()
        if settings.prompt_templates_dir is None and templates:
            settings.prompt_templates_dir = Path(templates).expanduser()
        return settings

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'agentspan.db'}"

    def resolved_prompt_templates_dir(self) -> Path:
        return self.prompt_templates_dir or self.data_dir / "prompts"

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
        return url_matches(url, self.allowed_base_urls)

    def mcp_url_allowed(self, url: str) -> bool:
        """True when ``mcp_allowed_urls`` is empty (any MCP server) or ``url`` matches one of
        its prefixes as ``base_url_allowed`` does."""
        return not self.mcp_allowed_urls or url_matches(url, self.mcp_allowed_urls)
