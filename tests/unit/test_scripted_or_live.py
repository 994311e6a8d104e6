"""``scripted_or_live``: the examples' switch between a real model and a scripted one."""

from __future__ import annotations

import pytest

from agentspan.agents.testing import ScriptedModel, scripted_or_live


def test_no_key_and_no_model_gives_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTSPAN_LLM_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = scripted_or_live(["hi"])
    assert isinstance(model, ScriptedModel)
    assert model.scripted_turns == [{"text": "hi"}]


def test_an_openai_key_gives_the_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTSPAN_LLM_MODEL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert scripted_or_live(["hi"]) == "openai/gpt-4o-mini"


def test_the_chosen_model_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPAN_LLM_MODEL", "anthropic/claude-sonnet-4-5")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert scripted_or_live(["hi"]) == "anthropic/claude-sonnet-4-5"
