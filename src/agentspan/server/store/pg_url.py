"""PostgreSQL URLs in messages: where the database is, never its password."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, unquote, urlsplit


def describe_url(url: str) -> str:
    """``host:port/database`` for messages: where the database is, never the password."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    # Taken as written (not parsed as one host and port), so several hosts or a bad port
    # still show as given; the driver reports what is wrong with them.
    where = parts.netloc.rsplit("@", 1)[-1]
    if not where:  # a Unix socket or libpq defaults
        where = query.get("host") or os.environ.get("PGHOST") or "localhost"
    if ":" not in where.rsplit("]", 1)[-1]:
        where = f"{where}:{query.get('port', '5432')}"
    database = unquote(parts.path.lstrip("/")) or query.get("dbname") or parts.username or "postgres"
    return f"{where}/{database}"


def redact_url(url: str) -> str:
    """The URL without its password (in the authority or the query string)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{hostinfo}"
    kept = [p for p in parts.query.split("&") if p and unquote(p.split("=", 1)[0]).lower() != "password"]
    # Assembled by hand: urlunsplit would turn ``postgresql:///db`` into ``postgresql:/db``.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{'&'.join(kept)}" if kept else "")


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from a driver message, in case one ever echoes it."""
    parts = urlsplit(url)
    secrets = [parts.password, dict(parse_qsl(parts.query)).get("password")]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            text = text.replace(unquote(secret), "***")
    return text
