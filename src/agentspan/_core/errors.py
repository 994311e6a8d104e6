"""Exceptions raised by the public ``agentspan.agents`` API."""

from __future__ import annotations


class AgentspanError(Exception):
    """Base class of every error raised by Agentspan."""


class AgentAPIError(AgentspanError):
    """The server answered an API call with a non-2xx status.

    ``status_code`` is 0 when no HTTP response was received. ``code`` is the server's
    stable machine-readable error code (see ``agentspan.protocol.errors.ErrorCode``), when
    the response carried one.
    """

    def __init__(self, status_code: int, message: str, url: str = "", code: str | None = None) -> None:
        # Passing every argument to Exception keeps ``args`` complete, so the error pickles
        # (e.g. across a process boundary) and is rebuilt with all its attributes.
        super().__init__(status_code, message, url, code)
        self.status_code = status_code
        self.message = message
        self.url = url
        self.code = code

    def __str__(self) -> str:
        text = f"HTTP {self.status_code}: {self.message}"
        return f"{text} ({self.url})" if self.url else text


class AgentNotFoundError(AgentAPIError):
    """The server answered 404: the agent or execution does not exist."""


class ConfigurationError(AgentspanError, ValueError):
    """An agent or tool definition is invalid.

    It is a ``ValueError`` so code written against the reference product, which raised
    plain ``ValueError`` for these mistakes, keeps catching it.
    """


class ToolSerializationError(AgentspanError, TypeError):
    """A tool returned a value that cannot be encoded as JSON."""


class TerminalToolError(AgentspanError):
    """Raised by a tool to fail its call at once, without retries."""
