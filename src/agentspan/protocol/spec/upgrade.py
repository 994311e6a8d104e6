"""Spec versions: turn an older stored document into the current shape before validation.

Specs are stored by content hash and read back for as long as an execution runs, so every
version ever written stays readable: ``upgrade`` walks a document up one version at a time.
A document newer than this server is refused; reading it could silently drop what it means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SPEC_SCHEMA_VERSION = 2
"""Version of the spec document. Readers accept every version up to this one.

1: keys beyond the core were untyped extras (any shape passed).
2: every key the SDK writes is typed and validated; tools are tagged on ``toolType``.
"""


def upgrade(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (one agent level, camelCase or snake_case) in the current version.

    Nested agents upgrade themselves when they are validated. The input is not modified.

    Raises:
        ValueError: the document is newer than this server, or its version is not a number.
    """
    version = document.get("schemaVersion", document.get("schema_version", 1))
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"agent spec schemaVersion must be an integer, got {version!r}")
    if version > SPEC_SCHEMA_VERSION:
        raise ValueError(
            f"agent spec schemaVersion {version} is newer than this server supports "
            f"({SPEC_SCHEMA_VERSION}); upgrade the server"
        )
    if version == SPEC_SCHEMA_VERSION:
        return document
    upgraded = dict(document)
    for step in _STEPS[version - 1 if version >= 1 else 0 :]:
        upgraded = step(upgraded)
    upgraded.pop("schema_version", None)
    upgraded["schemaVersion"] = SPEC_SCHEMA_VERSION
    return upgraded


def _v1_to_v2(document: dict[str, Any]) -> dict[str, Any]:
    """Version 1 let SDKs write ``{"type": "unknown"}`` for conditions they could not
    describe; the server never acted on them. Version 2 has no such kind: drop them with
    the same meaning (an unknown condition never triggers)."""
    if "termination" in document:
        document["termination"] = _known_termination(document["termination"])
        if document["termination"] is None:
            del document["termination"]
    handoffs = document.get("handoffs")
    if isinstance(handoffs, list):
        document["handoffs"] = [
            h for h in handoffs if not (isinstance(h, dict) and h.get("type") == "unknown")
        ]
    return document


def _known_termination(condition: Any) -> Any:
    """``condition`` without unknown parts, or ``None`` when it could never trigger."""
    if not isinstance(condition, dict):
        return condition
    kind = condition.get("type")
    if kind == "unknown":
        return None
    if kind not in ("and", "or") or not isinstance(condition.get("conditions"), list):
        return condition
    parts = [_known_termination(c) for c in condition["conditions"]]
    known = [p for p in parts if p is not None]
    if kind == "and" and len(known) < len(parts):
        return None  # One part never triggers, so neither does the whole.
    if not known:
        return None
    return {**condition, "conditions": known}


_STEPS: list[Callable[[dict[str, Any]], dict[str, Any]]] = [_v1_to_v2]
"""``_STEPS[n - 1]`` turns version ``n`` into ``n + 1``."""
