"""Credential references: names the server resolves from its credential store at run time.

A spec never carries a secret, only its name. Server-side tools (HTTP, OpenAPI, MCP) name
credentials as ``${NAME}`` in their headers and must declare each in their
``credentials``; the server substitutes the values in memory when it makes the call
(docs/credentials.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import Field

CredentialName = Annotated[str, Field(min_length=1, max_length=256)]
"""The name of one credential, e.g. ``GITHUB_TOKEN`` (a CredentialFile sends its env var)."""

CredentialRefs = list[CredentialName]

CREDENTIAL_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
"""What a stored credential may be called: an environment variable's name (a worker may
receive it as one), so ``${NAME}`` placeholders can never be ambiguous."""

PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
"""``${NAME}`` in a server-side tool's header values: the credential ``NAME``."""


def placeholders(values: Iterable[str]) -> list[str]:
    """The credential names ``${NAME}`` placeholders in ``values`` refer to, each once,
    in order of first appearance."""
    found: list[str] = []
    for value in values:
        for name in PLACEHOLDER.findall(value):
            if name not in found:
                found.append(name)
    return found


def undeclared(headers: Mapping[str, str] | None, declared: Iterable[str] | None) -> list[str]:
    """The placeholder names in ``headers`` that ``declared`` does not list (a tool must
    declare every credential its headers use)."""
    allowed = set(declared or ())
    return [name for name in placeholders((headers or {}).values()) if name not in allowed]


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``${NAME}`` replaced by ``values[NAME]`` (in memory, at call
    time: the result must never be stored, logged or put into an error)."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
