"""Run-scoped session state: Google ADK's ``session.state`` kept by the server.

A native execution's tool state is its own (a child starts empty). An agent whose spec has
``sessionState`` shares its tree's state instead, the way ADK agents share one session:

* it starts with a copy of its parent's state (:func:`inherited`);
* when it finishes, its state is merged into its parent's, key by key, its values winning
  (:func:`merge_child`). Parallel branches each start from the state as it was when they
  started and are merged as they finish, so two branches writing one key keep the later one;
* with ``outputKey``, its final answer is stored under that key when it completes
  (:func:`keep_output`), which is how an ADK pipeline hands one agent's answer to the next;
* a ``round_robin`` team with ``stopKey`` ends after a turn that set that key
  (:func:`stopped_by_state`; ADK's ``LoopAgent`` ending when a tool escalates);
* with ``template``, ``{name}`` in its instructions is replaced by the state's value at each
  model call (:func:`render`): ``{name?}`` is empty when missing, a missing ``{name}`` fails
  the call, as in ADK. Only identifiers are placeholders, so JSON braces stay as they are.

Everything here is pure; the driver and the model executor call it (the state is part of
the recorded execution document, so a resumed run sees the same values).
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentspan.protocol.spec import AgentConfig

__all__ = [
    "MissingStateVariable",
    "inherited",
    "keep_output",
    "merge_child",
    "render",
    "render_text",
    "shared_state",
    "stopped_by_state",
]

# ``{name}``, ``{name?}``, ``{app:name}``: ADK's placeholder forms (prefixes are kept as part
# of the key: this state has no separate app or user scopes).
_PLACEHOLDER = re.compile(r"\{+([A-Za-z_][A-Za-z0-9_:.]*)(\?)?\}+")


class MissingStateVariable(Exception):
    """A required ``{name}`` placeholder has no value in the state."""


def inherited(spec: AgentConfig, parent_state: dict[str, Any]) -> dict[str, Any] | None:
    """The initial state of a child running ``spec``: a copy of the parent's when the child
    shares the run's state, else ``None`` (the child starts with its own, empty one)."""
    if spec.session_state is None:
        return None
    copied: dict[str, Any] = json.loads(json.dumps(parent_state))
    return copied


def shared_state(spec: AgentConfig, state: dict[str, Any]) -> dict[str, Any] | None:
    """What a finishing child reports to its parent: its whole state when it shares it."""
    return dict(state) if spec.session_state is not None else None


def merge_child(parent_state: dict[str, Any], child_state: dict[str, Any] | None) -> None:
    """Fold a finished child's state into its parent's (the child's values win)."""
    if child_state:
        parent_state.update(child_state)


def keep_output(spec: AgentConfig, state: dict[str, Any], output: Any) -> None:
    """Store a completed agent's answer under its ``outputKey``, if it has one."""
    settings = spec.session_state
    if settings is not None and settings.output_key and output is not None:
        state[settings.output_key] = output


def stopped_by_state(spec: AgentConfig, state: dict[str, Any]) -> bool:
    """Whether a team's ``stopKey`` was set by the turn that just ended; the key is removed,
    so a later loop (or this one, run again) starts afresh."""
    settings = spec.session_state
    if settings is None or settings.stop_key is None:
        return False
    return bool(state.pop(settings.stop_key, None))


def render(spec: AgentConfig, state: dict[str, Any]) -> AgentConfig:
    """``spec`` with its ``{name}`` placeholders filled from ``state`` (the spec itself when
    it has no template). Raises :class:`MissingStateVariable` for a missing ``{name}``."""
    settings = spec.session_state
    if settings is None or not settings.template or not isinstance(spec.instructions, str):
        return spec
    return spec.model_copy(update={"instructions": render_text(spec.instructions, state)})


def render_text(text: str, state: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        whole, name, optional = match.group(0), match.group(1), match.group(2)
        if whole.startswith("{{") and whole.endswith("}}"):
            return whole  # ``{{name}}`` is not a placeholder
        if name not in state or state[name] is None:
            if optional:
                return ""
            raise MissingStateVariable(f"state variable {name!r} is not set")
        value = state[name]
        return value if isinstance(value, str) else json.dumps(value, default=str)

    return _PLACEHOLDER.sub(fill, text)
