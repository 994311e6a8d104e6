"""States stored by the version-1 engine (a decision function outstanding, kept as the
``pending_fn`` call-id string) load into the current ``ExecState`` and finish the run the
way version 1 finished it. The fixtures were written by version 1 itself
(tests/fixtures/states/make_v1_states.py), outcomes included — except one deliberate
change since: a pipeline's later step is given the request as well as the previous
output (pipeline_gate_outstanding.json's expected prompt was edited to say so)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine import decide
from agentspan.server.engine.loop import link_child
from agentspan.server.engine.model import (
    STATE_SCHEMA_VERSION,
    Command,
    Decision,
    ExecState,
    Input,
    StartChild,
    upgraded,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "states"
INPUT: TypeAdapter[Input] = TypeAdapter(Input)


def fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


# Command fields added since the fixtures were made, with the value the old engine meant.
_LATER_FIELDS = {"executor": "worker"}


def _command(c: Command) -> dict[str, Any]:
    fields = {k: v for k, v in dataclasses.asdict(c).items() if k != "spec"}
    for name, implied in _LATER_FIELDS.items():
        if fields.get(name) == implied:
            del fields[name]
    loaded: dict[str, Any] = json.loads(json.dumps(fields, sort_keys=True))
    return loaded


def outcome(d: Decision) -> dict[str, Any]:
    s = d.state
    return {
        "status": s.status,
        "output": s.output,
        "finish_reason": s.finish_reason,
        "error": s.error,
        "events": [e.type for e in d.events],
        "commands": [_command(c) for c in d.commands],
    }


def test_there_are_fixtures_of_each_purpose() -> None:
    purposes = {json.loads(p.read_text())["state"]["pending_fn"].split(".")[1] for p in fixtures()}
    assert purposes == {"stop_when", "router", "gate", "handoff"}


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.stem)
def test_a_version_1_state_upgrades_and_finishes_the_run_as_version_1_did(path: Path) -> None:
    document = json.loads(path.read_text())
    spec = AgentConfig.model_validate(document["spec"])
    old = document["state"]
    stored = ExecState.model_validate_json(json.dumps(old))
    state = upgraded(stored)
    assert stored.schema_version == 1 and stored.v1_pending_fn == old["pending_fn"], "changed its input"

    assert old["schema_version"] == 1 and state.schema_version == STATE_SCHEMA_VERSION
    fn = state.pending[old["pending_fn"]]
    assert (fn.call_id, fn.purpose, fn.task) == (
        old["pending_fn"],
        old["pending_fn"].split(".")[1],
        old["pending_fn_call"]["name"],
    )
    assert (fn.args, fn.attempt) == (old["pending_fn_call"]["args"], old["pending_fn_call"]["attempt"])
    written = json.loads(state.model_dump_json())
    assert "pending_fn" not in written and "pending_fn_call" not in written
    assert ExecState.model_validate_json(state.model_dump_json()) == state

    children = document["children_started"]
    for step in document["continue"]:
        d = decide(spec, state, INPUT.validate_python(step["input"]))
        assert outcome(d) == step["outcome"]
        for cmd in d.commands:
            if isinstance(cmd, StartChild):
                children += 1
                link_child(d.state, cmd.link, f"child{children}")
        state = d.state


def test_a_version_1_state_without_a_call_record_is_not_run_again() -> None:
    """The oldest states had only the call id: the function's answer is still taken, but
    a failure is not retried (there is nothing to run again), as version 1 did."""
    state = upgraded(ExecState.model_validate({"schema_version": 1, "pending_fn": "fn.stop_when.3"}))
    fn = state.pending["fn.stop_when.3"]
    assert (fn.purpose, fn.task) == ("stop_when", "")


def test_a_current_state_is_read_unchanged() -> None:
    state = ExecState(turn=3)
    assert state.schema_version == STATE_SCHEMA_VERSION == 2
    assert upgraded(state) is state
    assert ExecState.model_validate_json(state.model_dump_json()) == state


def test_decide_takes_a_version_1_state_directly_and_leaves_it_unchanged() -> None:
    """What the driver does: parse the stored row and hand it to ``decide``."""
    document = json.loads((FIXTURES / "single_stop_when_paused.json").read_text())
    stored = ExecState.model_validate_json(json.dumps(document["state"]))
    before = stored.model_copy(deep=True)
    step = document["continue"][0]
    d = decide(AgentConfig.model_validate(document["spec"]), stored, INPUT.validate_python(step["input"]))
    assert outcome(d) == step["outcome"]
    assert stored == before and d.state.schema_version == STATE_SCHEMA_VERSION
