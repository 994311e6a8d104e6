"""Domain errors: what went wrong below the HTTP edge, with a stable code and no status.

The driver, the task service and the service layer raise these; they know nothing of
HTTP. ``server/api/errors.py`` is the one place that turns them (and every other error
a request can meet) into a status code and a problem document, for both HTTP stacks.
A new error kind is a subclass here plus, if its code is new, one row in that table.
"""

from __future__ import annotations

from typing import ClassVar

from agentspan.protocol.errors import ErrorCode, LimitInfo
from agentspan.server.store.base import ConflictError


class DomainError(Exception):
    """A refused operation. ``code`` is stable (part of the API); ``detail`` is for humans."""

    default_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, detail: str, code: ErrorCode | None = None) -> None:
        super().__init__(detail)
        self.code = code or self.default_code
        self.detail = detail


class NotFound(DomainError):
    """The named thing does not exist (or no longer does)."""

    default_code = ErrorCode.EXECUTION_NOT_FOUND


class ValidationFailed(DomainError):
    """The request is well-formed JSON but asks for something that makes no sense."""

    default_code = ErrorCode.VALIDATION_FAILED


class InvalidAgent(DomainError):
    """The agent tree cannot run on this server (it names the agent at fault)."""

    default_code = ErrorCode.INVALID_AGENT


class BaseUrlNotAllowed(DomainError):
    """An agent names its own model endpoint (``baseUrl``) that the operator has not
    allowed (``AGENTSPAN_ALLOWED_BASE_URLS``); the server's keys must not go there."""

    default_code = ErrorCode.BASE_URL_NOT_ALLOWED


class UrlNotAllowed(DomainError):
    """A server-side tool names a destination the server does not call (link-local or
    cloud-metadata addresses, or a URL outside ``AGENTSPAN_HTTP_TOOL_ALLOWED_URLS``)."""

    default_code = ErrorCode.URL_NOT_ALLOWED


class ToolDiscoveryFailed(DomainError):
    """The tools of an ``api`` (or ``mcp``) tool could not be listed at start; the
    message names the URL and what went wrong."""

    default_code = ErrorCode.TOOL_DISCOVERY_FAILED


class InvalidModel(DomainError):
    """An agent names a model string no provider of this server understands (malformed,
    or an unknown provider prefix); refused at start rather than at the first model call."""

    default_code = ErrorCode.INVALID_MODEL


class LimitExceeded(DomainError):
    """A request exceeds one of the operator's limits (``server/service/limits.py``);
    ``limit`` says which, its value and what exceeded it."""

    default_code = ErrorCode.LIMIT_EXCEEDED

    def __init__(self, detail: str, limit: LimitInfo) -> None:
        super().__init__(detail)
        self.limit = limit


class QueueFull(LimitExceeded):
    """An execution's inbox holds as many queued messages as the operator allows; the
    sender may retry once a ``wait_for_message_tool`` call took some."""

    default_code = ErrorCode.QUEUE_FULL


class McpServerNotAllowed(DomainError):
    """An agent names a local (stdio) MCP server the operator has not listed in
    ``AGENTSPAN_MCP_STDIO_COMMANDS``; a caller can never supply the command itself."""

    default_code = ErrorCode.MCP_SERVER_NOT_ALLOWED


class InvalidForkPoint(DomainError):
    """A fork asked for a step it cannot start from (not a model call of the agent, out
    of range, or an execution whose kind cannot be forked yet)."""

    default_code = ErrorCode.INVALID_FORK_POINT


class EmbeddingFailed(DomainError):
    """The embedding model of a semantic-memory request could not embed its text (the
    provider refused or failed, or has no embeddings API); nothing was stored."""

    default_code = ErrorCode.EMBEDDING_FAILED

    def __init__(self, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.retryable = retryable


class InvalidState(DomainError):
    """The execution is not in a state that accepts this input; nothing changed.

    The code says why: ``not_waiting``, ``already_decided`` or ``invalid_state``.
    """

    default_code = ErrorCode.INVALID_STATE


class LeaseLost(DomainError):
    """A worker's lease on a task is no longer current: its report is fenced off."""

    default_code = ErrorCode.LEASE_LOST


class Conflict(DomainError):
    """Another writer changed the same data first; nothing was written, retrying is safe."""

    default_code = ErrorCode.CONFLICT


class CredentialStoreUnavailable(DomainError):
    """The credential store cannot seal or open values on this server (its master key is
    missing, malformed or not the one the stored values were sealed with)."""

    default_code = ErrorCode.CREDENTIAL_STORE_UNAVAILABLE


class CredentialNotDeclared(DomainError):
    """A worker asked for a credential its task's tool does not declare."""

    default_code = ErrorCode.CREDENTIAL_NOT_DECLARED


class Internal(DomainError):
    """A broken invariant of the server itself (e.g. a stored spec that is missing)."""

    default_code = ErrorCode.INTERNAL


def limit_of(exc: BaseException) -> LimitInfo | None:
    """The exceeded limit ``exc`` names, if it is a ``LimitExceeded``."""
    return exc.limit if isinstance(exc, LimitExceeded) else None


def not_found(execution_id: str) -> NotFound:
    return NotFound(f"no execution with id {execution_id!r}")


TRANSLATED: tuple[type[Exception], ...] = (ConflictError,)
"""Errors of the layers below that ``as_domain_error`` turns into domain errors (the HTTP
edge registers a handler for each, so it never has to import the store)."""


def as_domain_error(exc: BaseException) -> DomainError | None:
    """``exc`` as a domain error, or ``None`` when it is not one (an unexpected error)."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, ConflictError):
        # Another writer changed the execution first; nothing was written.
        return Conflict(f"{exc}; retry the request")
    return None
