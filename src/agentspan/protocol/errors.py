"""Stable error codes and the problem document every API error is returned as."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class ErrorCode(StrEnum):
    """Machine-readable error codes. They are part of the API and never change meaning."""

    INVALID_JSON = "invalid_json"
    VALIDATION_FAILED = "validation_failed"
    INVALID_AGENT = "invalid_agent"
    BASE_URL_NOT_ALLOWED = "base_url_not_allowed"
    URL_NOT_ALLOWED = "url_not_allowed"
    MCP_SERVER_NOT_ALLOWED = "mcp_server_not_allowed"
    TOOL_DISCOVERY_FAILED = "tool_discovery_failed"
    EXECUTION_NOT_FOUND = "execution_not_found"
    TASK_NOT_FOUND = "task_not_found"
    LEASE_LOST = "lease_lost"
    NOT_WAITING = "not_waiting"
    ALREADY_DECIDED = "already_decided"
    INVALID_STATE = "invalid_state"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAUTHORIZED = "unauthorized"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    KEY_NOT_FOUND = "key_not_found"
    KEY_NAME_TAKEN = "key_name_taken"
    CREDENTIAL_NOT_FOUND = "credential_not_found"
    CREDENTIAL_STORE_UNAVAILABLE = "credential_store_unavailable"
    CREDENTIAL_NOT_DECLARED = "credential_not_declared"
    DEPLOYMENT_NOT_FOUND = "deployment_not_found"
    MEMORY_ENTRY_NOT_FOUND = "memory_entry_not_found"
    EMBEDDING_FAILED = "embedding_failed"
    FORBIDDEN_ORIGIN = "forbidden_origin"
    FORBIDDEN_HOST = "forbidden_host"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    REQUEST_TOO_LARGE = "request_too_large"
    LIMIT_EXCEEDED = "limit_exceeded"
    QUEUE_FULL = "queue_full"
    INVALID_MODEL = "invalid_model"
    INVALID_FORK_POINT = "invalid_fork_point"
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal_error"


class LimitInfo(BaseModel):
    """Which of the server's limits a request exceeded (``limit_exceeded`` problems)."""

    name: str
    """The limit, e.g. ``tools_per_agent``."""
    setting: str
    """The environment variable the operator sets it with, e.g. ``AGENTSPAN_MAX_TOOLS_PER_AGENT``."""
    max: int
    """The limit's value on this server."""
    actual: int
    """What the request asked for."""
    path: str
    """Where: the agent (``team/researcher``) or the field (``prompt``)."""


class Problem(BaseModel):
    """An RFC 9457 problem document with our stable ``code``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    code: ErrorCode
    limit: LimitInfo | None = None
    """Only in ``limit_exceeded`` problems: which limit, its value and what exceeded it."""
