"""Assertions on an :class:`AgentResult`, each raising ``AssertionError`` with what was found.

They read ``result.tool_calls``, ``result.output``, ``result.status`` and ``result.events``,
so they work the same on a live run, a :func:`mock_run` and a :func:`replay`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

from agentspan.agents._agent import Agent
from agentspan.agents._result import AgentEvent, AgentResult, EventType, Status

__all__ = [
    "EventKind",
    "assert_agent_ran",
    "assert_event_sequence",
    "assert_events_contain",
    "assert_guardrail_failed",
    "assert_guardrail_passed",
    "assert_handoff_to",
    "assert_max_turns",
    "assert_no_errors",
    "assert_output_contains",
    "assert_output_matches",
    "assert_output_type",
    "assert_status",
    "assert_tool_call_order",
    "assert_tool_called_with",
    "assert_tool_not_used",
    "assert_tool_used",
    "assert_tools_used_exactly",
    "count_turns",
    "describe_events",
    "event_type_name",
    "handoff_targets",
    "tool_calls_of",
]

EventKind = EventType | str
"""An event type: an :class:`EventType` or the plain string (``"tool_retry"``, ``"approval"``, ...)."""

_EVENT_FIELDS = frozenset(f.name for f in dataclasses.fields(AgentEvent))
# Finishes the server decides without asking the model (stop requested, turn limit reached),
# so the DONE event they produce is not a model response and is no turn.
_NON_MODEL_FINISHES = frozenset({"stopped", "max_turns"})
_SHOWN_EVENTS = 30
_MISSING = object()


# --------------------------------------------------------------------------- helpers


def event_type_name(kind: EventKind) -> str:
    """The string an ``AgentEvent.type`` holds for ``kind``."""
    return kind.value if isinstance(kind, EventType) else str(kind)


def tool_calls_of(result: AgentResult) -> list[dict[str, Any]]:
    """The calls a result made: ``result.tool_calls``, else rebuilt from its TOOL_CALL events.

    A hand-built result may carry only events; a live or mocked one has both.
    """
    if result.tool_calls:
        return list(result.tool_calls)
    return [
        {"name": e.tool_name, "args": dict(e.args or {}), "call_id": e.call_id}
        for e in result.events
        if e.type == EventType.TOOL_CALL.value
    ]


def _tool_names(result: AgentResult) -> list[str]:
    return [str(call.get("name")) for call in tool_calls_of(result)]


def handoff_targets(result: AgentResult) -> list[str]:
    """Targets of the HANDOFF events, in order (our server emits one per child agent started)."""
    return [e.target for e in result.events if e.type == EventType.HANDOFF.value and e.target]


def count_turns(events: Iterable[AgentEvent]) -> int:
    """Model responses in ``events``.

    Our server emits one THINKING event per model call, so a THINKING starts a turn and
    the tool calls after it belong to that turn (parallel calls of one response); a final
    DONE after those calls is a further response, since the model had to see their results.
    Scripted events often leave THINKING out; before the first one, as in the reference,
    every TOOL_CALL and the model's DONE are one turn each.
    """
    turns = 0
    thinking_turn = False
    turn_called_tools = False
    for e in events:
        if e.type == EventType.THINKING.value:
            turns += 1
            thinking_turn, turn_called_tools = True, False
        elif e.type == EventType.TOOL_CALL.value:
            if thinking_turn:
                turn_called_tools = True
            else:
                turns += 1
        elif (
            e.type == EventType.DONE.value and _model_answered(e) and (not thinking_turn or turn_called_tools)
        ):
            turns += 1
    return turns


def _model_answered(event: AgentEvent) -> bool:
    reason = (event.data or {}).get("finishReason")
    return reason not in _NON_MODEL_FINISHES


def _describe_event(e: AgentEvent) -> str:
    if e.tool_name:
        return f"{e.type}({e.tool_name})"
    if e.target:
        return f"{e.type}(->{e.target})"
    if e.guardrail_name:
        return f"{e.type}({e.guardrail_name})"
    return e.type


def describe_events(events: Sequence[AgentEvent]) -> str:
    """A one-line summary of ``events`` for failure messages."""
    if not events:
        return "no events"
    shown = ", ".join(_describe_event(e) for e in events[:_SHOWN_EVENTS])
    more = len(events) - _SHOWN_EVENTS
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _first_unmatched(expected: Sequence[str], actual: Sequence[str]) -> int:
    """Index of the first item of ``expected`` not found, in order, in ``actual``; -1 if all are."""
    position = 0
    for index, item in enumerate(expected):
        while position < len(actual) and actual[position] != item:
            position += 1
        if position == len(actual):
            return index
        position += 1
    return -1


def _agent_name(agent: str | Agent) -> str:
    # Any object with a ``name`` counts as an agent (duck-typed, as in the reference).
    return agent if isinstance(agent, str) else str(getattr(agent, "name", agent))


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _args_match(call_args: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(call_args.get(key, _MISSING) == value for key, value in expected.items())


# --------------------------------------------------------------------------- tools


def assert_tool_used(result: AgentResult, name: str) -> None:
    """The tool declared as ``name`` was called at least once."""
    used = _tool_names(result)
    if name not in used:
        raise AssertionError(f"expected tool {name!r} to be used; tools used: {used or 'none'}")


def assert_tool_not_used(result: AgentResult, name: str) -> None:
    """The tool declared as ``name`` was never called."""
    count = _tool_names(result).count(name)
    if count:
        raise AssertionError(f"expected tool {name!r} not to be used, but it was called {count} time(s)")


def assert_tool_called_with(result: AgentResult, name: str, *, args: dict[str, Any] | None = None) -> None:
    """Some call of ``name`` had at least the key/value pairs of ``args`` (a subset match)."""
    assert_tool_used(result, name)
    if not args:
        return
    calls = [dict(c.get("args") or {}) for c in tool_calls_of(result) if c.get("name") == name]
    if not any(_args_match(call_args, args) for call_args in calls):
        raise AssertionError(
            f"expected a call to {name!r} with arguments including {_short(args)}; "
            f"its calls had: {_short(calls, 400)}"
        )


def assert_tool_call_order(result: AgentResult, names: Sequence[str]) -> None:
    """The tools ``names`` were called in this order (other calls may come in between)."""
    used = _tool_names(result)
    missing = _first_unmatched(list(names), used)
    if missing >= 0:
        raise AssertionError(
            f"expected tool calls in order {list(names)}; {names[missing]!r} (position {missing}) "
            f"was not called after the ones before it; actual order: {used or 'no calls'}"
        )


def assert_tools_used_exactly(result: AgentResult, names: Iterable[str]) -> None:
    """The set of tools called is exactly ``names`` (how often each was called does not matter)."""
    expected = set(names)
    used = set(_tool_names(result))
    if used != expected:
        details = []
        if expected - used:
            details.append(f"not used: {sorted(expected - used)}")
        if used - expected:
            details.append(f"unexpected: {sorted(used - expected)}")
        raise AssertionError(f"expected exactly the tools {sorted(expected)}; " + "; ".join(details))


# --------------------------------------------------------------------------- output and status


def assert_output_contains(result: AgentResult, text: str, *, case_sensitive: bool = True) -> None:
    """``str(result.output)`` contains ``text``."""
    output = str(result.output)
    found = text in output if case_sensitive else text.lower() in output.lower()
    if not found:
        how = "" if case_sensitive else " (ignoring case)"
        raise AssertionError(f"expected the output to contain {text!r}{how}; output: {_short(output, 400)}")


def assert_output_matches(result: AgentResult, pattern: str | re.Pattern[str]) -> None:
    """``re.search(pattern, str(result.output))`` finds a match."""
    output = str(result.output)
    if re.search(pattern, output) is None:
        shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        raise AssertionError(f"expected the output to match /{shown}/; output: {_short(output, 400)}")


def assert_output_type(result: AgentResult, type_: type[Any] | tuple[type[Any], ...]) -> None:
    """``result.output`` is an instance of ``type_``."""
    if not isinstance(result.output, type_):
        wanted = " | ".join(t.__name__ for t in type_) if isinstance(type_, tuple) else type_.__name__
        raise AssertionError(
            f"expected output of type {wanted}, got {type(result.output).__name__}: {_short(result.output)}"
        )


def assert_status(result: AgentResult, status: str | Status) -> None:
    """``result.status`` is ``status`` (``"COMPLETED"``, ``"FAILED"``, ...)."""
    wanted = status.value if isinstance(status, Status) else status
    if result.status != wanted:
        error = f" (error: {result.error})" if result.error else ""
        raise AssertionError(f"expected status {wanted!r}, got {result.status!r}{error}")


def assert_no_errors(result: AgentResult) -> None:
    """The run emitted no ERROR event."""
    errors = [e.content for e in result.events if e.type == EventType.ERROR.value]
    if errors:
        raise AssertionError(f"expected no error events, found {len(errors)}: {_short(errors, 400)}")


# --------------------------------------------------------------------------- events


def assert_events_contain(
    result: AgentResult, event_type: EventKind, /, *, expected: bool = True, **attrs: Any
) -> None:
    """Some event has type ``event_type`` and the field values ``attrs`` (none does if not ``expected``).

    ``attrs`` name ``AgentEvent`` fields: ``assert_events_contain(r, "tool_call", tool_name="search")``.
    """
    unknown = sorted(set(attrs) - _EVENT_FIELDS)
    if unknown:
        raise TypeError(f"AgentEvent has no field(s) {unknown}; fields: {sorted(_EVENT_FIELDS)}")
    kind = event_type_name(event_type)
    matches = [
        e for e in result.events if e.type == kind and all(getattr(e, k) == v for k, v in attrs.items())
    ]
    wanted = kind + (f" event with {_short(attrs)}" if attrs else " event")
    if expected and not matches:
        raise AssertionError(f"expected a {wanted}; events: {describe_events(result.events)}")
    if not expected and matches:
        raise AssertionError(f"expected no {wanted}, found {len(matches)}: {describe_events(matches)}")


def assert_event_sequence(result: AgentResult, types: Sequence[EventKind]) -> None:
    """Events of these types occur in this order (other events may come in between)."""
    wanted = [event_type_name(t) for t in types]
    missing = _first_unmatched(wanted, [e.type for e in result.events])
    if missing >= 0:
        raise AssertionError(
            f"expected the event sequence {wanted}; no {wanted[missing]!r} event (position {missing}) "
            f"after the ones before it; events: {describe_events(result.events)}"
        )


def assert_handoff_to(result: AgentResult, agent: str | Agent) -> None:
    """A HANDOFF event targets ``agent`` (a name or an :class:`Agent`)."""
    name = _agent_name(agent)
    targets = handoff_targets(result)
    if name not in targets:
        raise AssertionError(f"expected a handoff to {name!r}; handoffs: {targets or 'none'}")


def assert_agent_ran(result: AgentResult, agent: str | Agent) -> None:
    """``agent`` ran as a child of this run: the same check as :func:`assert_handoff_to`."""
    assert_handoff_to(result, agent)


def _guardrail_names(result: AgentResult, kind: EventType) -> list[str]:
    return [str(e.guardrail_name) for e in result.events if e.type == kind.value]


def assert_guardrail_passed(result: AgentResult, name: str) -> None:
    """A GUARDRAIL_PASS event names the guardrail ``name``."""
    passed = _guardrail_names(result, EventType.GUARDRAIL_PASS)
    if name not in passed:
        failed = _guardrail_names(result, EventType.GUARDRAIL_FAIL)
        raise AssertionError(
            f"expected guardrail {name!r} to pass; passed: {passed or 'none'}, failed: {failed or 'none'}"
        )


def assert_guardrail_failed(result: AgentResult, name: str) -> None:
    """A GUARDRAIL_FAIL event names the guardrail ``name``."""
    failed = _guardrail_names(result, EventType.GUARDRAIL_FAIL)
    if name not in failed:
        passed = _guardrail_names(result, EventType.GUARDRAIL_PASS)
        raise AssertionError(
            f"expected guardrail {name!r} to fail; failed: {failed or 'none'}, passed: {passed or 'none'}"
        )


def assert_max_turns(result: AgentResult, n: int) -> None:
    """The run took at most ``n`` model turns (see :func:`count_turns` for how they are counted)."""
    turns = count_turns(result.events)
    if turns > n:
        raise AssertionError(
            f"expected at most {n} turn(s), got {turns}; events: {describe_events(result.events)}"
        )
