"""``ScriptedModel``: a model whose replies are written in the test, run by the real server."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One tool call in a scripted turn. ``arguments`` may be a raw string (e.g. malformed
    JSON, to test how the agent recovers)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)


Turn = str | ToolCall | Sequence[ToolCall]


class ScriptedModel:
    """Replies with ``turns`` in order: a ``str`` is a final answer, a ``ToolCall`` (or a
    list of them, run in parallel) is a tool-calling turn.

    ``Agent(name="a", model=ScriptedModel([ToolCall("get_weather", {"city": "NYC"}), "Sunny."]))``
    runs durably on a real server with no network and no API key.
    """

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.scripted_turns: list[dict[str, Any]] = [_turn(t) for t in turns]
        if not self.scripted_turns:
            raise ValueError("ScriptedModel needs at least one turn")

    def to_model_string(self) -> str:
        return "scripted/model"

    def __repr__(self) -> str:
        return f"ScriptedModel({len(self.scripted_turns)} turns)"


# The model an example or a smoke test uses when a real one is available (and its default).
LIVE_MODEL_ENV = "AGENTSPAN_LLM_MODEL"
DEFAULT_LIVE_MODEL = "openai/gpt-4o-mini"


def scripted_or_live(turns: Sequence[Turn]) -> str | ScriptedModel:
    """A real model when one is configured, else ``ScriptedModel(turns)``.

    Lets one program run both ways: with ``AGENTSPAN_LLM_MODEL`` set (say
    ``anthropic/claude-sonnet-4-5``) or ``OPENAI_API_KEY`` set (then ``openai/gpt-4o-mini``),
    the agent talks to that model; with neither, it replays ``turns`` with no network and no
    key. The examples gallery uses it so every example runs offline.
    """
    chosen = os.environ.get(LIVE_MODEL_ENV, "").strip()
    if chosen:
        return chosen
    if os.environ.get("OPENAI_API_KEY", "").strip():
        return DEFAULT_LIVE_MODEL
    return ScriptedModel(turns)


def _turn(turn: Turn) -> dict[str, Any]:
    if isinstance(turn, str):
        return {"text": turn}
    calls = [turn] if isinstance(turn, ToolCall) else list(turn)
    if not calls or not all(isinstance(c, ToolCall) for c in calls):
        raise TypeError(f"a scripted turn is a str, a ToolCall or a list of ToolCalls, not {turn!r}")
    return {"toolCalls": [{"name": c.name, "arguments": _arguments(c.arguments)} for c in calls]}


def _arguments(arguments: dict[str, Any] | str) -> dict[str, Any] | str:
    if isinstance(arguments, str):
        return arguments
    json.dumps(arguments)  # fail here, in the test, if they cannot be sent
    return dict(arguments)
