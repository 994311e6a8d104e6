"""Regex guardrails cannot be stalled by a backtracking pattern: each match has a time
limit and a pattern that runs out of it fails the guardrail (closed)."""

from __future__ import annotations

import re
import time

import pytest

from agentspan.protocol.spec.guardrails import RegexGuardrailSpec
from agentspan.server.engine import regex_check
from agentspan.server.engine.guardrails import regex_verdict

EVIL = r"^(a|aa)+$"
"""Exponential in both ``re`` and ``regex`` (without the limit this input would not finish)."""
EVIL_INPUT = "a" * 60 + "!"


def rail(patterns: list[str], mode: str = "block") -> RegexGuardrailSpec:
    return RegexGuardrailSpec.model_validate(
        {"name": "r", "guardrailType": "regex", "patterns": patterns, "mode": mode}
    )


def test_the_evil_pattern_is_stopped_within_its_limit() -> None:
    started = time.perf_counter()
    assert regex_check.search(EVIL, EVIL_INPUT, timeout=0.05) == "timeout"
    # The check runs periodically inside the match: allow generous slack on a busy machine.
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("pattern", "content", "found"),
    [
        (r"\b\d{3}-\d{2}-\d{4}\b", "my ssn is 123-45-6789.", "found"),
        (r"\b\d{3}-\d{2}-\d{4}\b", "no number here", "absent"),
        (r"(?i)password", "PassWord=1", "found"),
        (r"^(a+)+$", "a" * 40 + "!", "absent"),  # catastrophic in re, linear here
    ],
)
def test_ordinary_patterns_keep_re_search_semantics(pattern: str, content: str, found: str) -> None:
    assert regex_check.search(pattern, content) == found
    assert (re.search(pattern, content[:22]) is not None) == (
        regex_check.search(pattern, content[:22]) == "found"
    )


def test_a_pattern_that_runs_out_of_time_fails_the_guardrail_in_either_mode() -> None:
    for mode in ("block", "allow"):
        passed, message = regex_verdict(rail([r"safe", EVIL], mode), EVIL_INPUT)
        assert passed is False
        assert EVIL in message and "took longer than" in message


def test_verdicts_of_ordinary_patterns() -> None:
    assert regex_verdict(rail([r"secret"]), "a secret") == (False, "Content matched a blocked pattern.")
    assert regex_verdict(rail([r"secret"]), "nothing") == (True, "")
    assert regex_verdict(rail([r"^OK"], "allow"), "OK then") == (True, "")
    assert regex_verdict(rail([r"^OK"], "allow"), "no") == (
        False,
        "Content did not match any allowed pattern.",
    )
