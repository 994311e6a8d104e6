"""``expect(result)``: the assertions as a fluent chain."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Self

from agentspan.agents._agent import Agent
from agentspan.agents._result import AgentResult, Status
from agentspan.agents.testing import _assertions as a

__all__ = ["AgentResultExpectation", "expect"]


class AgentResultExpectation:
    """Checks on one result; every method raises ``AssertionError`` or returns ``self``."""

    def __init__(self, result: AgentResult) -> None:
        self.result = result

    def completed(self) -> Self:
        """The status is ``"COMPLETED"``."""
        a.assert_status(self.result, Status.COMPLETED)
        return self

    def failed(self) -> Self:
        """The status is ``"FAILED"``."""
        a.assert_status(self.result, Status.FAILED)
        return self

    def status(self, status: str | Status) -> Self:
        """The status is ``status``."""
        a.assert_status(self.result, status)
        return self

    def no_errors(self) -> Self:
        """No ERROR event was emitted."""
        a.assert_no_errors(self.result)
        return self

    def used_tool(self, name: str, *, args: dict[str, Any] | None = None) -> Self:
        """The tool ``name`` was called, with at least ``args`` if given."""
        a.assert_tool_called_with(self.result, name, args=args)
        return self

    def did_not_use_tool(self, name: str) -> Self:
        """The tool ``name`` was never called."""
        a.assert_tool_not_used(self.result, name)
        return self

    def tool_call_order(self, names: Sequence[str]) -> Self:
        """The tools ``names`` were called in this order."""
        a.assert_tool_call_order(self.result, names)
        return self

    def tools_used_exactly(self, names: Iterable[str]) -> Self:
        """Exactly the tools ``names`` were called."""
        a.assert_tools_used_exactly(self.result, names)
        return self

    def output_contains(self, text: str, *, case_sensitive: bool = True) -> Self:
        """The output contains ``text``."""
        a.assert_output_contains(self.result, text, case_sensitive=case_sensitive)
        return self

    def output_matches(self, pattern: str | re.Pattern[str]) -> Self:
        """The output matches the regular expression ``pattern``."""
        a.assert_output_matches(self.result, pattern)
        return self

    def output_type(self, type_: type[Any] | tuple[type[Any], ...]) -> Self:
        """The output is an instance of ``type_``."""
        a.assert_output_type(self.result, type_)
        return self

    def events_contain(self, event_type: a.EventKind, /, *, expected: bool = True, **attrs: Any) -> Self:
        """An event of ``event_type`` with the field values ``attrs`` exists (or not)."""
        a.assert_events_contain(self.result, event_type, expected=expected, **attrs)
        return self

    def event_sequence(self, types: Sequence[a.EventKind]) -> Self:
        """Events of these types occur in this order."""
        a.assert_event_sequence(self.result, types)
        return self

    def handoff_to(self, agent: str | Agent) -> Self:
        """A HANDOFF event targets ``agent``."""
        a.assert_handoff_to(self.result, agent)
        return self

    def agent_ran(self, agent: str | Agent) -> Self:
        """``agent`` ran as a child of this run."""
        a.assert_agent_ran(self.result, agent)
        return self

    def guardrail_passed(self, name: str) -> Self:
        """The guardrail ``name`` passed."""
        a.assert_guardrail_passed(self.result, name)
        return self

    def guardrail_failed(self, name: str) -> Self:
        """The guardrail ``name`` failed."""
        a.assert_guardrail_failed(self.result, name)
        return self

    def max_turns(self, n: int) -> Self:
        """The run took at most ``n`` model turns."""
        a.assert_max_turns(self.result, n)
        return self


def expect(result: AgentResult) -> AgentResultExpectation:
    """Start a fluent chain of checks: ``expect(result).completed().used_tool("search")``."""
    return AgentResultExpectation(result)
