"""The event catalog (protocol/events.py) against what the engine really emits, the SDK's
``EventType`` and the docs' event table.

Every engine test in tests/unit/test_decide*.py (the scripted flows and the random input
sequences) is run again here while a profiler hook records each ``Decision`` that
``decide`` returns; every event draft in them must be a catalog type whose model accepts
its fields and writes them back byte for byte.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from functools import cache, partial
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from agentspan.agents import EventType
from agentspan.protocol.api import StreamEvent
from agentspan.protocol.events import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    NOT_EMITTED_YET,
    TERMINAL_EVENTS,
    event_type_names,
    from_stream_event,
    parse_payload,
    to_payload,
    to_stream_event,
)
from agentspan.server.engine import Decision, EventDraft, Input, decide
from agentspan.server.engine.loop import link_child
from agentspan.server.engine.model import BudgetExceeded, ChildFinished, Selection, StartChild
from agentspan.server.service.queries import event_view
from agentspan.server.store.base import EventRow

from support.decide import LOOKUP, Run, agent, call, commands, events

ROOT = Path(__file__).resolve().parents[2]
ENGINE_TESTS = sorted(p.stem for p in (ROOT / "tests" / "unit").glob("test_decide*.py"))


def _recording(run: Callable[[], object], into: list[EventDraft]) -> None:
    """Run ``run`` and append every event draft of every decision ``decide`` returns."""
    target = decide.__code__

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is target and isinstance(arg, Decision):
            into.extend(arg.events)

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)


def _calls(test: Callable[..., object]) -> Iterator[Callable[[], object]]:
    """The test called once per parameter set (``@pytest.mark.parametrize`` only)."""
    marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    if not marks:
        yield test
        return
    (mark,) = marks
    names = [n.strip() for n in mark.args[0].split(",")] if isinstance(mark.args[0], str) else mark.args[0]
    for values in mark.args[1]:
        row = values.values if hasattr(values, "values") else values  # a pytest.param
        row = row if len(names) > 1 else (row,)
        yield partial(test, **dict(zip(names, row, strict=True)))


class _Linked(Run):
    """A ``Run`` that gives every child it is told to start an id, as the driver does."""

    def apply(self, inp: Input) -> Decision:
        d = super().apply(inp)
        for start in commands(d, StartChild):
            link_child(self.state, start.link, f"k{len(self.state.children) + self.state.step}")
        return d


def _flows_the_engine_tests_skip() -> None:
    """Events the engine tests do not reach; each flow checks it produced its event."""
    members = [agent(name="a"), agent(name="b")]

    run = _Linked(agent(planner=True))
    assert events(run.start(), "thinking") and events(run.llm("1. look it up"), "plan")

    run = _Linked(agent(LOOKUP, termination={"type": "text_mention", "text": "DONE"}))
    run.start()
    assert events(run.llm("DONE", call("lookup")), "terminated")

    run = _Linked(agent(LOOKUP, stopWhen={"taskName": "stop_fn"}))
    run.start()
    run.llm("looking", call("lookup"))
    run.ok("c1")
    (pending_call,) = run.state.pending  # the one outstanding stop_when call
    assert events(run.fail(pending_call, retryable=False), "error_ignored")

    run = _Linked(agent())
    run.start()
    assert events(run.apply(BudgetExceeded(reason="token budget exhausted")), "budget_exceeded")

    gated = [agent(name="a", gate={"type": "text_contains", "text": "STOP"}), agent(name="b")]
    run = _Linked(agent(name="p", strategy="sequential", agents=gated))
    run.start()
    assert events(
        run.apply(ChildFinished(child_id="k0", agent_name="a", status="COMPLETED", output="STOP")),
        "gate_stopped",
    )

    run = _Linked(agent(name="p", strategy="parallel", agents=members))
    run.start()
    children = list(run.state.children)
    run.apply(ChildFinished(child_id=children[0], agent_name="a", status="FAILED", error="boom"))
    d = run.apply(ChildFinished(child_id=children[1], agent_name="b", status="COMPLETED", output="ok"))
    assert events(d, "branches_failed")

    run = _Linked(agent(name="team", strategy="manual", agents=members))
    run.start()
    assert events(run.apply(Selection(selected=None, decided_by="alice")), "selection")


@cache
def emitted() -> tuple[EventDraft, ...]:
    drafts: list[EventDraft] = []
    for module_name in ENGINE_TESTS:
        module = importlib.import_module(module_name)
        for name, test in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and test.__module__ == module.__name__:
                for run in _calls(test):
                    _recording(run, drafts)
    _recording(_flows_the_engine_tests_skip, drafts)
    return tuple(drafts)


def test_the_engine_tests_are_found_and_produce_events() -> None:
    assert {"test_decide", "test_decide_flow"} <= set(ENGINE_TESTS)
    assert len(emitted()) > 2_000  # the random sequences alone produce thousands


def test_every_emitted_event_is_in_the_catalog_and_validates() -> None:
    problems: dict[str, str] = {}
    for draft in emitted():
        if draft.type not in EVENT_TYPES:
            problems[draft.type] = "not in the catalog"
            continue
        try:
            event = parse_payload(draft.type, draft.fields)
        except ValidationError as error:
            problems.setdefault(draft.type, f"{draft.fields}: {error}")
            continue
        stored = json.dumps(draft.fields, separators=(",", ":"), default=str)
        again = json.dumps(to_payload(event), separators=(",", ":"), default=str)
        if again != stored:
            problems.setdefault(draft.type, f"stored {stored}, rebuilt {again}")
    assert problems == {}


def test_every_catalog_type_is_emitted_except_the_reserved_ones() -> None:
    seen = {draft.type for draft in emitted()}
    assert set(EVENT_TYPES) - seen == NOT_EMITTED_YET
    assert set(EVENT_TYPES) >= NOT_EMITTED_YET
    assert seen >= TERMINAL_EVENTS


def test_a_payload_with_an_undeclared_key_or_a_wrong_type_is_refused() -> None:
    with pytest.raises(ValidationError, match="surprise"):
        parse_payload("tool_call", {"tool_name": "t", "args": {}, "call_id": "c1", "surprise": 1})
    with pytest.raises(ValidationError, match="attempt"):
        parse_payload("output_invalid", {"content": "bad", "data": {"attempt": "twice"}})
    with pytest.raises(KeyError):
        parse_payload("no_such_event", {})


def test_the_union_is_discriminated_on_type() -> None:
    event = EVENT_ADAPTER.validate_python({"type": "worker_found", "tool_name": "lookup"})
    assert event.type == "worker_found"
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        EVENT_ADAPTER.validate_python({"type": "nope"})


def test_every_model_field_is_a_stream_event_field() -> None:
    envelope = {"type"}
    for event_type, model in EVENT_TYPES.items():
        extra = set(model.model_fields) - envelope - set(StreamEvent.model_fields)
        assert extra == set(), event_type


def test_the_wire_form_matches_what_the_server_sends() -> None:
    """``to_stream_event`` gives what ``views.event_view`` makes of the stored row, and
    ``from_stream_event`` (also after a JSON round trip) gives the event back."""
    for draft in {d.type: d for d in emitted()}.values():
        event = parse_payload(draft.type, draft.fields)
        row = EventRow("e1", 7, draft.type, json.dumps(draft.fields, default=str), 12.5)
        wire = to_stream_event(event, seq=7, execution_id="e1", timestamp_ms=12_500)
        assert wire.wire() == event_view(row).wire(), draft.type
        assert from_stream_event(wire) == event
        sent = StreamEvent.model_validate(json.loads(json.dumps(wire.wire())))
        assert to_payload(from_stream_event(sent)).keys() <= to_payload(event).keys()


def test_the_sdk_event_type_lists_exactly_the_catalog() -> None:
    assert {member.value for member in EventType} == set(event_type_names())


# --- the docs ------------------------------------------------------------------------------


def _docs_table() -> dict[str, str]:
    """``docs/api.md``'s event table: type -> its Fields cell."""
    text = (ROOT / "docs" / "api.md").read_text()
    start = text.index("| Type | Fields | Emitted when |")
    rows: dict[str, str] = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def _documented_names(cell: str) -> set[str]:
    """The field names a Fields cell mentions: `toolName`, `data.attempt`, `extra?`."""
    names = set()
    for token in re.findall(r"`([^`]+)`", cell):
        parent, _, name = token.rstrip("?").rpartition(".")
        names |= {parent, name} - {""}
    return names


def _declared_names(event_type: str) -> set[str]:
    """The wire names of a model's fields and of its ``data`` fields."""
    model = EVENT_TYPES[event_type]
    names = {StreamEvent.model_fields[f].alias or f for f in model.model_fields if f != "type"}
    data = model.model_fields.get("data")
    if data is not None:
        for option in getattr(data.annotation, "__args__", None) or (data.annotation,):
            if isinstance(option, type) and issubclass(option, BaseModel):
                names |= {f.alias or n for n, f in option.model_fields.items()}
    return names


def test_the_docs_table_lists_every_catalog_type_in_order() -> None:
    assert list(_docs_table()) == list(event_type_names())


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_the_docs_table_names_exactly_the_fields_of_each_type(event_type: str) -> None:
    assert _documented_names(_docs_table()[event_type]) == _declared_names(event_type)
