"""Run-scoped session state (server/engine/session_state.py): the pure rules."""

from __future__ import annotations

import pytest

from agentspan.protocol.spec import AgentConfig, SessionStateSpec
from agentspan.server.engine.session_state import (
    MissingStateVariable,
    inherited,
    keep_output,
    merge_child,
    render,
    render_text,
    shared_state,
    stopped_by_state,
)


def _spec(**settings: object) -> AgentConfig:
    return AgentConfig(name="a", instructions="Hi {who}", session_state=SessionStateSpec(**settings))  # type: ignore[arg-type]


def test_only_sharing_agents_inherit_and_report_state() -> None:
    parent = {"k": {"nested": [1]}}
    plain = AgentConfig(name="p")
    assert inherited(plain, parent) is None and shared_state(plain, parent) is None
    copy = inherited(_spec(), parent)
    assert copy == parent and copy is not None
    copy["k"]["nested"].append(2)
    assert parent == {"k": {"nested": [1]}}  # a copy, not the parent's objects
    assert shared_state(_spec(), {"x": 1}) == {"x": 1}


def test_merge_lets_the_child_win_and_output_key_keeps_the_answer() -> None:
    state: dict[str, object] = {"a": 1, "b": 2}
    merge_child(state, {"b": 3, "c": 4})
    merge_child(state, None)
    assert state == {"a": 1, "b": 3, "c": 4}
    keep_output(_spec(output_key="answer"), state, {"city": "Oslo"})
    keep_output(_spec(), state, "ignored: no key")
    assert state["answer"] == {"city": "Oslo"} and "ignored: no key" not in state.values()


def test_templates_fill_state_and_leave_other_braces() -> None:
    state = {"who": "ada", "n": 3, "app:x": "y"}
    assert render_text("Hi {who}, {n} {app:x} {maybe?}!", state) == "Hi ada, 3 y !"
    assert (
        render_text('JSON {"a": 1} and {{who}} and { who }', state) == 'JSON {"a": 1} and {{who}} and { who }'
    )
    with pytest.raises(MissingStateVariable, match="'missing'"):
        render_text("{missing}", state)
    assert render(_spec(template=True), state).instructions == "Hi ada"
    untemplated = _spec()
    assert render(untemplated, state) is untemplated


def test_stop_key_ends_a_loop_once() -> None:
    spec = _spec(stop_key="esc")
    state = {"esc": True}
    assert stopped_by_state(spec, state) is True
    assert state == {}  # removed: a later loop starts afresh
    assert stopped_by_state(spec, state) is False
    assert stopped_by_state(_spec(), {"esc": True}) is False
