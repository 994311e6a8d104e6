"""Regex guardrail patterns, matched with a time limit.

Patterns come from users and content from models, and the stdlib's ``re`` backtracks
without limit: ``^(a|aa)+$`` against 60 ``a`` and a ``!`` takes longer than the age of the
universe, holding the engine step (and its server thread) meanwhile. The ``regex`` package
runs the same syntax (its ``VERSION0`` is ``re``-compatible), avoids most blow-ups, and
stops a match after ``timeout`` seconds for the rest.

A timed-out match is not a verdict on the content, so the guardrail fails closed: the
failure says which pattern ran out of time. This is the only clock the engine reads; it
cannot make a recorded step differ on replay because a step's outcome (the verdict
event) is stored once and never recomputed.
"""

from __future__ import annotations

from typing import Literal

import regex

MATCH_TIMEOUT_SECONDS = 0.1
"""Time one pattern may take on one content (the guardrail fails closed past it)."""

Found = Literal["found", "absent", "timeout"]


def search(pattern: str, content: str, timeout: float = MATCH_TIMEOUT_SECONDS) -> Found:
    """Whether ``pattern`` occurs in ``content`` (``re.search`` semantics)."""
    try:
        return "found" if regex.search(pattern, content, timeout=timeout) else "absent"
    except TimeoutError:
        return "timeout"


def first(patterns: list[str], content: str, timeout: float = MATCH_TIMEOUT_SECONDS) -> tuple[Found, str]:
    """The first pattern that is found or times out, and what happened (``absent``, ``""``
    when none is)."""
    for pattern in patterns:
        outcome = search(pattern, content, timeout)
        if outcome != "absent":
            return outcome, pattern
    return "absent", ""
