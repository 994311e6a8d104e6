"""skill() and load_skills(): a skill directory becomes an agent whose scripts are tools,
whose files are readable (and nothing outside them), and whose *-agent.md files are helpers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agentspan._core.errors import ConfigurationError
from agentspan._core.tool import ToolDef, get_tool_def
from agentspan.agents import Agent
from agentspan.agents.skill import (
    SkillLoadError,
    format_prompt_with_params,
    format_skill_params,
    load_skills,
    skill,
)

SKILL_MD = """\
---
name: release-notes
description: Write release notes from a changelog.
params:
  audience: {default: developers}
  tone: plain
---
# Release notes

Read references/style.md, then run the summarise script.
"""


def make_skill(root: Path, manifest: str = SKILL_MD) -> Path:
    root.mkdir(parents=True)
    (root / "SKILL.md").write_text(manifest)
    (root / "scripts").mkdir()
    (root / "scripts" / "summarise.py").write_text(
        "import sys\nprint('summary of', ' '.join(sys.argv[1:]))\nsys.exit(3 if 'fail' in sys.argv else 0)"
    )
    (root / "scripts" / "count").write_text("#!/bin/sh\necho $# words\n")
    (root / "references").mkdir()
    (root / "references" / "style.md").write_text("Short sentences.")
    (root / "reviewer-agent.md").write_text("You review release notes.")
    return root


def tools_by_name(agent: Agent) -> dict[str, ToolDef]:
    return {get_tool_def(t).name: get_tool_def(t) for t in agent.tools}


def test_a_skill_becomes_an_agent_with_tools(tmp_path: Path) -> None:
    agent = skill(make_skill(tmp_path / "notes"), model="openai/gpt-4o", params={"tone": "friendly"})
    assert agent.name == "release_notes" and agent.model == "openai/gpt-4o"
    assert isinstance(agent.instructions, str)
    assert agent.instructions.startswith("# Release notes")
    assert agent.instructions.endswith("[Skill Parameters]\naudience: developers\ntone: friendly")
    tools = tools_by_name(agent)
    assert sorted(tools) == [
        "release_notes__count",
        "release_notes__read_skill_file",
        "release_notes__summarise",
        "release_notes_reviewer",
    ]
    helper = tools["release_notes_reviewer"]
    assert helper.tool_type == "agent_tool"
    assert helper.config["agent"].instructions == "You review release notes."


def test_script_tools_run_with_arguments_and_report_failures(tmp_path: Path) -> None:
    tools = tools_by_name(skill(make_skill(tmp_path / "notes"), model="openai/gpt-4o"))
    summarise, count = tools["release_notes__summarise"].func, tools["release_notes__count"].func
    assert summarise is not None and count is not None
    assert summarise(command="v1.2 'big fix'") == "summary of v1.2 big fix\n"
    assert summarise(command="fail").startswith("ERROR (exit 3):")
    assert count(command="a b c") == "3 words\n"  # no extension: the shebang decides


def test_the_read_tool_cannot_leave_the_skill(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside")
    tools = tools_by_name(skill(make_skill(tmp_path / "notes"), model="openai/gpt-4o"))
    read = tools["release_notes__read_skill_file"].func
    assert read is not None
    assert read(path="references/style.md") == "Short sentences."
    assert read(path="") == "Files: references/style.md"
    for escape in ("../secret.txt", str(tmp_path / "secret.txt"), "scripts/summarise.py", "SKILL.md"):
        assert read(path=escape).startswith("ERROR:"), escape
    (tmp_path / "notes" / "references" / "link.md").symlink_to(tmp_path / "secret.txt")
    again = tools_by_name(skill(tmp_path / "notes", model="openai/gpt-4o"))["release_notes__read_skill_file"]
    assert again.func is not None and again.func(path="references/link.md").startswith("ERROR:")


def test_bad_skills_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SkillLoadError, match="no SKILL.md"):
        skill(tmp_path)
    with pytest.raises(ConfigurationError, match="needs a 'name'"):
        skill(make_skill(tmp_path / "nameless", "---\ndescription: x\n---\nbody"))
    with pytest.raises(SkillLoadError, match="closing"):
        skill(make_skill(tmp_path / "open", "---\nname: x\nbody"))


def test_load_skills_finds_every_skill_directory(tmp_path: Path) -> None:
    make_skill(tmp_path / "notes")
    make_skill(tmp_path / "other", SKILL_MD.replace("release-notes", "triage"))
    (tmp_path / "not-a-skill").mkdir()
    found = load_skills(
        tmp_path, model="openai/gpt-4o", agent_models={"notes": {"reviewer": "openai/gpt-4o-mini"}}
    )
    assert sorted(found) == ["release_notes", "triage"]
    reviewer = tools_by_name(found["release_notes"])["release_notes_reviewer"].config["agent"]
    assert reviewer.model == "openai/gpt-4o-mini"


def test_parameter_formatting() -> None:
    assert format_skill_params({}) == ""
    assert format_skill_params({"a": 1, "b": "x"}) == "[Skill Parameters]\na: 1\nb: x"
    assert format_prompt_with_params("do it", {"a": 1}) == textwrap.dedent(
        """\
        [Skill Parameters]
        a: 1

        [User Request]
        do it"""
    )
    assert format_prompt_with_params("do it", None) == "do it"


def test_a_skill_nests_in_a_team_and_inside_agent_tool(tmp_path: Path) -> None:
    from agentspan.agents import agent_tool
    from agentspan.agents._serialize import collect_tool_functions, serialize_agent

    notes = skill(make_skill(tmp_path / "notes"), model="openai/gpt-4o")
    for lead in (
        Agent(name="lead", model="openai/gpt-4o", tools=[agent_tool(notes)]),
        Agent(name="team", model="openai/gpt-4o", agents=[notes], strategy="handoff"),
    ):
        served = collect_tool_functions(lead)
        assert {"release_notes__summarise", "release_notes__read_skill_file"} <= set(served)
        assert "release_notes" in serialize_agent(lead).model_dump_json()


def test_a_skill_the_body_refers_to_becomes_an_agent_tool(tmp_path: Path) -> None:
    def write(root: Path, name: str, body: str) -> Path:
        root.mkdir(parents=True)
        (root / "SKILL.md").write_text(f"---\nname: {name}\n---\n{body}\n")
        return root

    lead = write(
        tmp_path / "skills" / "lead",
        "lead",
        "Use the changelog skill first, then call the `style-guide` skill. Never use the ghost skill.",
    )
    write(tmp_path / "skills" / "changelog", "changelog", "Collect changes; invoke the lead skill if unsure.")
    elsewhere = tmp_path / "library"
    write(elsewhere / "style-guide", "style-guide", "Plain words.")
    agent = skill(lead, model="openai/gpt-4o", search_path=[str(elsewhere)])
    tools = tools_by_name(agent)
    assert sorted(tools) == ["changelog", "style_guide"]  # "ghost" is found nowhere: left as text
    changelog = tools["changelog"].config["agent"]
    assert changelog.model == "openai/gpt-4o" and changelog.instructions.startswith("Collect changes")
    assert changelog.tools == []  # its reference back to "lead" is a cycle: not followed
    without = skill(lead, model="openai/gpt-4o")
    assert sorted(tools_by_name(without)) == ["changelog"]  # style-guide is only on the search path
