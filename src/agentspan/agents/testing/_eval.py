"""The correctness eval runner: run cases against a runtime, record every check."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol, TextIO

from agentspan.agents._result import AgentResult, Status
from agentspan.agents.testing import _assertions as a
from agentspan.agents.testing._strategy import validate_strategy

__all__ = [
    "CorrectnessEval",
    "EvalCase",
    "EvalCaseResult",
    "EvalCheckResult",
    "EvalRuntime",
    "EvalSuiteResult",
]

Check = Callable[[AgentResult], object]


class EvalRuntime(Protocol):
    """What the eval needs of a runtime: ``AgentRuntime`` fits, and so does any test double."""

    def run(self, agent: Any, prompt: str) -> AgentResult: ...


@dataclasses.dataclass
class EvalCase:
    """One prompt for one agent, and what its result must show.

    The string-or-list fields accept one value or several; each value is its own check.
    Output checks ignore case. ``custom_assertions`` are called with the result and fail
    their check by raising.
    """

    name: str = ""
    agent: Any = None
    prompt: str = ""
    expect_tools: list[str] | None = None
    expect_tools_not_used: list[str] | None = None
    expect_tool_args: dict[str, dict[str, Any]] | None = None
    expect_handoff_to: str | list[str] | None = None
    expect_no_handoff_to: str | list[str] | None = None
    expect_output_contains: str | list[str] | None = None
    expect_output_matches: str | list[str] | None = None
    expect_status: str | Status | None = Status.COMPLETED.value
    expect_no_errors: bool = True
    validate_orchestration: bool = True
    custom_assertions: list[Check] = dataclasses.field(default_factory=list)
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class EvalCheckResult:
    """The outcome of one check of a case; ``message`` says why it failed."""

    check: str
    passed: bool
    message: str = ""


@dataclasses.dataclass
class EvalCaseResult:
    """The outcome of one case; ``error`` is set when the case could not run at all."""

    name: str
    passed: bool
    checks: list[EvalCheckResult] = dataclasses.field(default_factory=list)
    result: AgentResult | None = None
    error: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)

    @property
    def failed_checks(self) -> list[EvalCheckResult]:
        """The checks that did not pass."""
        return [c for c in self.checks if not c.passed]


@dataclasses.dataclass
class EvalSuiteResult:
    """The outcomes of every case that ran."""

    cases: list[EvalCaseResult] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        """How many cases ran."""
        return len(self.cases)

    @property
    def pass_count(self) -> int:
        """How many cases passed."""
        return sum(1 for c in self.cases if c.passed)

    @property
    def fail_count(self) -> int:
        """How many cases failed."""
        return self.total - self.pass_count

    @property
    def all_passed(self) -> bool:
        """True when no case failed (also for an empty suite)."""
        return self.fail_count == 0

    def failed_cases(self) -> list[EvalCaseResult]:
        """The cases that failed."""
        return [c for c in self.cases if not c.passed]

    def print_summary(self, file: TextIO | None = None) -> None:
        """Print one line per case, the failed checks under it, and the totals."""
        out = file if file is not None else sys.stdout
        print(f"Eval: {self.total} case(s), {self.pass_count} passed, {self.fail_count} failed", file=out)
        for case in self.cases:
            print(f"  {'PASS' if case.passed else 'FAIL'}  {case.name}", file=out)
            if case.error is not None:
                print(f"        error: {case.error}", file=out)
            for check in case.failed_checks:
                print(f"        x {check.check}: {check.message}", file=out)


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _planned_checks(case: EvalCase, agent: Any) -> list[tuple[str, Check]]:
    """The checks ``case`` asks for, named for the report, in a stable order."""
    checks: list[tuple[str, Check]] = []
    if case.expect_status is not None:
        checks.append(("status", partial(a.assert_status, status=case.expect_status)))
    if case.expect_no_errors:
        checks.append(("no_errors", a.assert_no_errors))
    checks += [(f"tool_used:{t}", partial(a.assert_tool_used, name=t)) for t in case.expect_tools or []]
    checks += [
        (f"tool_not_used:{t}", partial(a.assert_tool_not_used, name=t))
        for t in case.expect_tools_not_used or []
    ]
    checks += [
        (f"tool_args:{t}", partial(a.assert_tool_called_with, name=t, args=args))
        for t, args in (case.expect_tool_args or {}).items()
    ]
    checks += [
        (f"handoff_to:{t}", partial(a.assert_handoff_to, agent=t)) for t in _as_list(case.expect_handoff_to)
    ]
    checks += [
        (f"no_handoff_to:{t}", partial(_no_handoff_to, agent=t)) for t in _as_list(case.expect_no_handoff_to)
    ]
    checks += [
        (f"output_contains:{text}", partial(a.assert_output_contains, text=text, case_sensitive=False))
        for text in _as_list(case.expect_output_contains)
    ]
    checks += [
        (f"output_matches:{p}", partial(a.assert_output_matches, pattern=p))
        for p in _as_list(case.expect_output_matches)
    ]
    # Duck-typed: any object shaped like an agent may be evaluated, as in the reference.
    teamed = getattr(agent, "agents", None) or getattr(agent, "allowed_transitions", None) is not None
    if case.validate_orchestration and teamed:
        checks.append(("orchestration", partial(validate_strategy, agent)))
    checks += [(f"custom:{_check_name(fn)}", fn) for fn in case.custom_assertions]
    return checks


def _no_handoff_to(result: AgentResult, agent: str) -> None:
    targets = a.handoff_targets(result)
    if agent in targets:
        raise AssertionError(f"expected no handoff to {agent!r}; handoffs: {targets}")


def _check_name(fn: Check) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


def _run_check(name: str, check: Check, result: AgentResult) -> EvalCheckResult:
    try:
        check(result)
    except AssertionError as exc:
        return EvalCheckResult(name, False, str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken custom check fails itself, not the suite
        return EvalCheckResult(name, False, f"{type(exc).__name__}: {exc}")
    return EvalCheckResult(name, True)


class CorrectnessEval:
    """Runs :class:`EvalCase` objects with ``runtime.run(agent, prompt)`` and checks each result.

    The runtime is duck-typed: an ``AgentRuntime`` (whose results carry the streamed
    events, so handoff and orchestration checks work against a live server) or a test double.
    """

    def __init__(self, runtime: EvalRuntime) -> None:
        self.runtime = runtime

    def run(self, cases: Iterable[EvalCase], *, tags: Iterable[str] | None = None) -> EvalSuiteResult:
        """Run the cases (only those with one of ``tags``, if given) one after another."""
        wanted = set(tags) if tags is not None else None
        results = [
            self._run_case(case, number)
            for number, case in enumerate(cases, start=1)
            if wanted is None or wanted & set(case.tags)
        ]
        return EvalSuiteResult(results)

    def _run_case(self, case: EvalCase, number: int) -> EvalCaseResult:
        name = case.name or f"case {number}"
        tags = list(case.tags)
        if case.agent is None:
            return EvalCaseResult(name, False, error="the case has no agent", tags=tags)
        try:
            result = self.runtime.run(case.agent, case.prompt)
        except Exception as exc:  # noqa: BLE001 - a run that fails to complete fails its case only
            return EvalCaseResult(name, False, error=f"{type(exc).__name__}: {exc}", tags=tags)
        checks = [
            _run_check(check_name, check, result) for check_name, check in _planned_checks(case, case.agent)
        ]
        return EvalCaseResult(name, all(c.passed for c in checks), checks, result, None, tags)
