"""The server log's format: uvicorn's plain lines, or one JSON object per line.

``agentspan server run --log-format json`` (or ``AGENTSPAN_LOG_FORMAT=json``) makes every
line of the process — uvicorn's own, the access log and ``agentspan.*`` — a JSON object
with ``ts`` (epoch seconds), ``level``, ``logger`` and ``message`` (and ``exc`` for a
traceback), for log shippers. ``log_config`` is a ``logging.config.dictConfig`` document
handed to uvicorn, which applies it before the server starts.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

FORMATS = ("text", "json")


def format_from_env(given: str | None) -> str:
    """``--log-format`` if given, else ``AGENTSPAN_LOG_FORMAT``, else text; refuses others."""
    value = (given or os.environ.get("AGENTSPAN_LOG_FORMAT") or "text").strip().lower()
    if value not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {value!r}")
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """uvicorn's loggers and ``agentspan``'s, all to stderr, at ``level``, as ``fmt``."""
    if fmt == "json":
        formatters: dict[str, Any] = {
            "default": {"()": JsonFormatter},
            "access": {"()": JsonFormatter},
        }
    else:
        formatters = {
            "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        }
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
            "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": ["access"], "level": upper, "propagate": False},
            "agentspan": {"handlers": ["default"], "level": upper, "propagate": False},
        },
    }
