"""Every error leaves the server as a JSON problem document with a stable ``code``."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentspan.protocol.errors import ErrorCode, Problem
from agentspan.server.errors import ApiError
from agentspan.server.store.base import ConflictError

log = logging.getLogger("agentspan.server")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    500: "Internal Server Error",
}


def _problem(status: int, code: ErrorCode, detail: str) -> Problem:
    return Problem(title=_TITLES.get(status, "Error"), status=status, detail=detail, code=code)


def problem_response(status: int, code: ErrorCode, detail: str) -> JSONResponse:
    body = _problem(status, code, detail)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, media_type="application/problem+json"
    )


def problem_body(status: int, code: ErrorCode, detail: str) -> bytes:
    """The same problem document as ``problem_response``, as bytes."""
    return json.dumps(_problem(status, code, detail).model_dump(mode="json")).encode()


def describe_validation(errors: list[dict[str, object]]) -> tuple[ErrorCode, str]:
    """A stable code and a readable message for pydantic's (or FastAPI's) errors."""
    parts: list[str] = []
    code = ErrorCode.VALIDATION_FAILED
    for err in errors[:5]:
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            reason = ctx.get("error", "") if isinstance(ctx, dict) else ""
            return ErrorCode.INVALID_JSON, f"the request body is not valid JSON: {reason}".rstrip(": ")
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]  # type: ignore[attr-defined]
        if loc and loc[0] == "agentConfig":
            code = ErrorCode.INVALID_AGENT
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg')}")
    return code, "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, detail = describe_validation(list(exc.errors()))
        return problem_response(400, code, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
            exc.status_code, ErrorCode.VALIDATION_FAILED
        )
        return problem_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        # Another writer changed the execution first; nothing was written, retrying is safe.
        return problem_response(409, ErrorCode.CONFLICT, f"{exc}; retry the request")

    @app.exception_handler(json.JSONDecodeError)
    async def _json(_: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return problem_response(400, ErrorCode.INVALID_JSON, f"the request body is not valid JSON: {exc.msg}")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(500, ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}")
