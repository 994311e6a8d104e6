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


def check_version(version: Any) -> int:
    """``version`` if this server reads documents of it.

    Raises:
        ValueError: the version is newer than this server, or not an integer.
    """
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"agent spec schemaVersion must be an integer, got {version!r}")
    if version > SPEC_SCHEMA_VERSION:
        raise ValueError(
            f"agent spec schemaVersion {version} is newer than this server supports "
            f"({SPEC_SCHEMA_VERSION}); upgrade the server"
        )
    return version


def upgrade(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (one agent level, camelCase or snake_case) in the current version.

    Nested agents upgrade themselves when they are validated. The input is not modified.

    Raises:
        ValueError: the document is newer than this server, or its version is not a number.
    """
    version = check_version(document.get("schemaVersion", document.get("schema_version", 1)))
    if version == SPEC_SCHEMA_VERSION:
        return document
    upgraded = dict(document)
    for key in UPGRADED_KEYS:
        if key in upgraded:
            value = upgrade_value(key, upgraded[key], version)
            if value is None:
                del upgraded[key]
            else:
                upgraded[key] = value
    upgraded.pop("schema_version", None)
    upgraded["schemaVersion"] = SPEC_SCHEMA_VERSION
    return upgraded


def upgrade_value(key: str, value: Any, version: int) -> Any:
    """The value of ``key`` in a version-``version`` document, as the current version says it.

    ``None``: the key goes away. ``AgentConfig`` upgrades key by key, through this, so a
    current document (nearly every one) is validated straight from JSON: a whole-document
    hook would turn it into Python objects first and double the cost of reading a spec.
    """
    for step in _STEPS[max(version, 1) - 1 :]:
        if key in step and value is not None:
            value = step[key](value)
    return value


def _v1_termination(condition: Any) -> Any:
    """Version 1 let SDKs write ``{"type": "unknown"}`` for conditions they could not
    describe; the server never acted on them. Version 2 has no such kind: drop them with
    the same meaning (an unknown condition never triggers)."""
    return _known_termination(condition)


def _v1_handoffs(handoffs: Any) -> Any:
    """Version 1's unknown handoff conditions never triggered; version 2 drops them."""
    if not isinstance(handoffs, list):
        return handoffs
    return [h for h in handoffs if not (isinstance(h, dict) and h.get("type") == "unknown")]


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


_STEPS: list[dict[str, Callable[[Any], Any]]] = [{"termination": _v1_termination, "handoffs": _v1_handoffs}]
"""``_STEPS[n - 1]`` turns version ``n`` into ``n + 1``, one top-level key at a time (the key
is both the field name and the wire name). A step that must see the whole document would
need a whole-document hook again; measure ``bench/spec_validation.py`` before adding one."""

UPGRADED_KEYS: tuple[str, ...] = tuple(dict.fromkeys(key for step in _STEPS for key in step))
"""Every key some step changes: ``AgentConfig`` runs the upgrade on these fields only."""
