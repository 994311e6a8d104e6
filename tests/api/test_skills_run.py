"""A skill agent runs through a real server: its script tool and its read tool are worker
tools whose results reach the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import AgentRuntime, skill
from agentspan.agents.testing import ScriptedModel, ToolCall

from fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def test_a_skill_agent_runs_its_script_and_reads_its_files(
    runtime: AgentRuntime, fake: FakeOpenAI, tmp_path: Path
) -> None:
    root = tmp_path / "greeter"
    (root / "scripts").mkdir(parents=True)
    (root / "references").mkdir()
    (root / "SKILL.md").write_text("---\nname: greeter\nparams:\n  lang: en\n---\nGreet people.\n")
    (root / "scripts" / "greet.sh").write_text('echo "hello, $1"\n')
    (root / "references" / "names.txt").write_text("Ada\n")
    fake.script(
        FakeOpenAI.tool_calls(
            [
                ("greeter__read_skill_file", {"path": "references/names.txt"}),
                ("greeter__greet", {"command": "Ada"}),
            ]
        ),
        FakeOpenAI.text("Greeted Ada."),
    )
    result = runtime.run(skill(root, model="openai/gpt-4o"), "greet everyone")
    assert result.status == "COMPLETED" and result.output == "Greeted Ada."
    assert [c["result"] for c in result.tool_calls] == ["Ada\n", "hello, Ada\n"]
    system = fake.requests[0]["messages"][0]["content"]
    assert "Greet people." in system and "[Skill Parameters]\nlang: en" in system


def test_a_skill_runs_offline_with_a_scripted_model(runtime: AgentRuntime, tmp_path: Path) -> None:
    root = tmp_path / "counter"
    (root / "scripts").mkdir(parents=True)
    (root / "SKILL.md").write_text("---\nname: counter\n---\nCount things.\n")
    (root / "scripts" / "count.py").write_text("import sys\nprint(len(sys.argv) - 1)\n")
    model = ScriptedModel([ToolCall("counter__count", {"command": "a b c"}), "Three."])

    result = runtime.run(skill(root, model=model), "count a b c")

    assert result.status == "COMPLETED" and result.output == "Three."
    assert [c["result"] for c in result.tool_calls] == ["3\n"]
