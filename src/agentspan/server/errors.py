"""Errors the service layer raises; the API maps each to a problem document."""

from __future__ import annotations

from agentspan.protocol.errors import ErrorCode


class ApiError(Exception):
    def __init__(self, status: int, code: ErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def not_found(execution_id: str) -> ApiError:
    return ApiError(404, ErrorCode.EXECUTION_NOT_FOUND, f"no execution with id {execution_id!r}")
