"""Every error leaves the server as a JSON problem document with a stable ``code``.

The one mapping from what can go wrong in a request (a ``DomainError`` from below, a
body pydantic rejects, JSON that does not parse, a route that does not exist, anything
unexpected) to an HTTP status and an RFC 9457 problem document. Both HTTP stacks use it:
FastAPI through the handlers ``install`` registers, ``FastPaths`` through
``problem_from``. ``STATUS`` is also what the OpenAPI description documents
(``documented``), so the description cannot drift from what the server answers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentspan.protocol.errors import ErrorCode, LimitInfo, Problem
from agentspan.server.errors import TRANSLATED, DomainError, as_domain_error, limit_of

log = logging.getLogger("agentspan.server")

STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.VALIDATION_FAILED: 400,
    ErrorCode.INVALID_AGENT: 400,
    ErrorCode.BASE_URL_NOT_ALLOWED: 400,
    ErrorCode.URL_NOT_ALLOWED: 400,
    ErrorCode.TOOL_DISCOVERY_FAILED: 400,
    ErrorCode.INVALID_MODEL: 400,
    ErrorCode.INVALID_FORK_POINT: 400,
    ErrorCode.MCP_SERVER_NOT_ALLOWED: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INSUFFICIENT_SCOPE: 403,
    ErrorCode.CREDENTIAL_NOT_DECLARED: 403,
    ErrorCode.FORBIDDEN_ORIGIN: 403,
    ErrorCode.EXECUTION_NOT_FOUND: 404,
    ErrorCode.TASK_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.KEY_NOT_FOUND: 404,
    ErrorCode.CREDENTIAL_NOT_FOUND: 404,
    ErrorCode.DEPLOYMENT_NOT_FOUND: 404,
    ErrorCode.MEMORY_ENTRY_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.REQUEST_TOO_LARGE: 413,
    ErrorCode.LIMIT_EXCEEDED: 413,
    ErrorCode.QUEUE_FULL: 429,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.FORBIDDEN_HOST: 421,
    ErrorCode.LEASE_LOST: 409,
    ErrorCode.NOT_WAITING: 409,
    ErrorCode.ALREADY_DECIDED: 409,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.KEY_NAME_TAKEN: 409,
    ErrorCode.INTERNAL: 500,
    ErrorCode.EMBEDDING_FAILED: 502,
    ErrorCode.CREDENTIAL_STORE_UNAVAILABLE: 503,
    ErrorCode.SHUTTING_DOWN: 503,
}
"""The status every code is answered with: one status per code, for both stacks."""

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    409: "Conflict",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
PROBLEM_TYPE = "application/problem+json"


def problem_document(
    status: int, code: ErrorCode, detail: str, limit: LimitInfo | None = None
) -> dict[str, Any]:
    """The problem document; ``limit`` (see ``errors.limit_of``) only for ``limit_exceeded``."""
    problem = Problem(
        title=_TITLES.get(status, "Error"), status=status, detail=detail, code=code, limit=limit
    )
    return problem.model_dump(mode="json", exclude_none=True)


def problem_body(status: int, code: ErrorCode, detail: str, limit: LimitInfo | None = None) -> bytes:
    return json.dumps(problem_document(status, code, detail, limit)).encode()


async def send_problem(
    send: Any, code: ErrorCode, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer a raw ASGI request with ``code``'s problem document (the middleware's way
    to refuse a request before any route runs)."""
    status = STATUS[code]
    body = problem_body(status, code, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def problem_from(exc: BaseException) -> tuple[int, ErrorCode, str]:
    """The status, code and detail ``exc`` is answered with (logs the unexpected)."""
    domain = as_domain_error(exc)
    if domain is not None:
        return STATUS[domain.code], domain.code, domain.detail
    if isinstance(exc, ValidationError | RequestValidationError):
        code, detail = describe_validation([dict(e) for e in exc.errors()])
        return 400, code, detail
    if isinstance(exc, json.JSONDecodeError):
        return 400, ErrorCode.INVALID_JSON, f"the request body is not valid JSON: {exc.msg}"
    if isinstance(exc, StarletteHTTPException):
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
            exc.status_code, ErrorCode.VALIDATION_FAILED
        )
        return exc.status_code, code, str(exc.detail)
    log.error("unhandled error", exc_info=exc)
    return 500, ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}"


def describe_validation(errors: list[dict[str, Any]]) -> tuple[ErrorCode, str]:
    """A stable code and a readable message (naming the fields) for pydantic's errors."""
    parts: list[str] = []
    code = ErrorCode.VALIDATION_FAILED
    for err in errors[:5]:
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            reason = ctx.get("error", "") if isinstance(ctx, dict) else ""
            return ErrorCode.INVALID_JSON, f"the request body is not valid JSON: {reason}".rstrip(": ")
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        if loc and loc[0] == "agentConfig":
            code = ErrorCode.INVALID_AGENT
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg')}")
    return code, "; ".join(parts)


def install(app: FastAPI) -> None:
    """Answer every error FastAPI meets with ``problem_from``'s problem document."""

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        status, code, detail = problem_from(exc)
        return JSONResponse(
            problem_document(status, code, detail, limit_of(exc)),
            status_code=status,
            media_type=PROBLEM_TYPE,
        )

    expected: tuple[type[Exception], ...] = (
        DomainError,
        *TRANSLATED,
        RequestValidationError,
        ValidationError,
        StarletteHTTPException,
        json.JSONDecodeError,
    )
    for kind in expected:
        app.add_exception_handler(kind, handle)
    # Registered last and for ``Exception``: Starlette answers it from its outermost
    # middleware (and re-raises it, so the server logs it too).
    app.add_exception_handler(Exception, handle)


# --- the OpenAPI description ------------------------------------------------------------

EVERY_REQUEST = (
    ErrorCode.FORBIDDEN_HOST,
    ErrorCode.FORBIDDEN_ORIGIN,
    ErrorCode.REQUEST_TOO_LARGE,
    ErrorCode.INTERNAL,
    ErrorCode.SHUTTING_DOWN,
)
"""What any request may be answered with, whatever its route: ``RequestGuard``'s refusals
(before a route runs; a body too large is refused on any method), a server fault, and a
shutdown cutting the request past the graceful wait (``api/fast.py::answer_cut``).
``documented`` lists them for every operation."""
PARAMETERS = (ErrorCode.VALIDATION_FAILED,)
"""What a route with query parameters (or a body) may answer: a value that does not validate."""
BODY = (*PARAMETERS, ErrorCode.INVALID_JSON, ErrorCode.UNSUPPORTED_MEDIA_TYPE)
"""What a route with a JSON body may answer: ``RequestGuard`` refuses a body that is not
``application/json`` (415), the body may not parse (400) or not validate (400)."""
WRITE_METHOD = (ErrorCode.UNSUPPORTED_MEDIA_TYPE,)
"""What a ``POST``/``PUT`` route without a body may answer: sent one anyway, the body must
still be JSON (``RequestGuard`` checks the method, not the route)."""
WRITES = (ErrorCode.CONFLICT,)
"""What a route that writes may answer (PostgreSQL: another writer came first)."""


def documented(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of an operation that can answer ``codes`` (and ``EVERY_REQUEST``):
    one entry per status, listing its codes, each a problem document. The status of a code
    comes from ``STATUS``, so a new code is documented by adding it there and to the
    ``codes`` of the routes that raise it."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in (*codes, *EVERY_REQUEST):
        listed = by_status.setdefault(STATUS[code], [])
        if code not in listed:
            listed.append(code)
    return {
        status: {
            "model": Problem,
            "description": "A problem document; `code` is one of: " + ", ".join(f"`{c}`" for c in listed),
        }
        for status, listed in sorted(by_status.items())
    }


def code_table() -> str:
    """Every code and its status, as a Markdown table (for the OpenAPI description)."""
    rows = "\n".join(f"| `{code}` | {status} |" for code, status in STATUS.items())
    return f"| code | status |\n|---|---|\n{rows}"


def tidy_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the generated description say what the server sends: problem documents as
    ``application/problem+json``, and no 422 (FastAPI documents one for every route with
    parameters; this server answers bad input with a 400 problem document instead)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            for status, response in responses.items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and content:
                    # FastAPI files them under the route's media type (``text/event-stream``
                    # for the stream); a problem is always ``application/problem+json``.
                    response["content"] = {PROBLEM_TYPE: next(iter(content.values()))}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
