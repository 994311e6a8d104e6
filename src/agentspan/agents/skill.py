"""Skills: agentskills.io-style directories turned into agents.

A skill directory holds ``SKILL.md`` (YAML front matter with at least ``name``, then the
instructions), optional ``*-agent.md`` files (sub-agents, by the file's stem without
``-agent``), ``scripts/`` (each script becomes a tool) and resource files (``references/``,
``examples/``, ``assets/``, other root files) the agent may read through one tool that
cannot leave the skill's directory. Needs ``pip install 'agentspan[skills]'`` (PyYAML).

Unlike the reference, which sends the raw directory contents for the server to compile,
``skill()`` builds an ordinary :class:`Agent` here: scripts and file reads are worker
tools (durable like any other), sub-agents are ``agent_tool`` children.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentspan._core.errors import AgentspanError, ConfigurationError
from agentspan._core.tool import ToolDef
from agentspan.agents._agent import Agent
from agentspan.agents._scripted import ScriptedModel
from agentspan.agents._tool import agent_tool

__all__ = ["SkillLoadError", "format_prompt_with_params", "format_skill_params", "load_skills", "skill"]

SCRIPT_TIMEOUT = 300
MAX_OUTPUT_BYTES = 100_000
MAX_READ_BYTES = 200_000
_RESOURCE_DIRS = ("references", "examples", "assets")
_BY_EXTENSION = {".py": "python3", ".sh": "bash", ".js": "node", ".mjs": "node", ".rb": "ruby"}
_INSTALL = "pip install 'agentspan[skills]'"
# "invoke the changelog skill", "use pdf-tools skill", "call the `review` skill"
_SKILL_REFERENCE = re.compile(r"\b(?:invoke|use|call)\s+(?:the\s+)?`?([A-Za-z0-9][\w.-]*)`?\s+skill\b", re.I)


class SkillLoadError(AgentspanError):
    """A directory is not a skill (no ``SKILL.md``) or cannot be read."""


def format_skill_params(params: Mapping[str, Any] | None) -> str:
    """``"[Skill Parameters]\\nkey: value..."``, or ``""`` without parameters."""
    if not params:
        return ""
    return "[Skill Parameters]\n" + "\n".join(f"{key}: {value}" for key, value in params.items())


def format_prompt_with_params(prompt: str, params: Mapping[str, Any] | None) -> str:
    """The parameters block, then the user's request."""
    block = format_skill_params(params)
    return f"{block}\n\n[User Request]\n{prompt}" if block else prompt


def _front_matter(text: str, where: Path) -> tuple[dict[str, Any], str]:
    try:
        import yaml  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise SkillLoadError(f"reading skills needs PyYAML: {_INSTALL}") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    closing = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if closing is None:
        raise SkillLoadError(f"{where}: the front matter has no closing '---'")
    try:
        data = yaml.safe_load("\n".join(lines[1:closing])) or {}
    except yaml.YAMLError as exc:
        raise SkillLoadError(f"{where}: invalid YAML front matter: {exc}") from exc
    if not isinstance(data, dict):
        raise SkillLoadError(f"{where}: the front matter must be a mapping")
    return data, "\n".join(lines[closing + 1 :])


def _default_params(declared: Any) -> dict[str, Any]:
    """Front-matter ``params``: ``{name: {default: v}}`` or ``{name: v}``."""
    if not isinstance(declared, dict):
        return {}
    return {k: (v.get("default") if isinstance(v, dict) else v) for k, v in declared.items()}


def _interpreter(script: Path) -> str | None:
    known = _BY_EXTENSION.get(script.suffix)
    if known:
        return known
    with script.open("rb") as handle:
        first = handle.readline(200).decode("utf-8", errors="replace")
    if first.startswith("#!"):
        words = first[2:].split()
        if words:
            return words[-1] if os.path.basename(words[0]) == "env" and len(words) > 1 else words[0]
    return "bash" if not script.suffix else None


def _resources(root: Path) -> list[str]:
    """Relative paths of the files the agent may read (never scripts' siblings outside)."""
    found: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.is_file() and entry.name != "SKILL.md" and not entry.name.endswith("-agent.md"):
            found.append(entry.name)
    for folder in _RESOURCE_DIRS:
        base = root / folder
        if base.is_dir():
            found += [
                str(p.relative_to(root))
                for p in sorted(base.rglob("*"))
                if p.is_file() and not p.is_symlink()
            ]
    return found


def _script_tool(skill_name: str, root: Path, script: Path) -> ToolDef:
    interpreter = _interpreter(script)

    def run_script(command: str = "") -> str:
        from agentspan.agents._sandbox.process import minimal_environment, run_limited  # noqa: PLC0415

        if interpreter is None:
            return f"ERROR: no interpreter known for {script.name}"
        program = shutil.which(interpreter) if "/" not in interpreter else interpreter
        if program is None:
            return f"ERROR (exit 127):\n{interpreter} is not installed on this worker"
        outcome = run_limited(
            [program, str(script), *shlex.split(command or "")],
            cwd=str(root),
            env=minimal_environment(None, {}, ("HOME", "USER", "LOGNAME")),
            timeout=SCRIPT_TIMEOUT,
            max_output_bytes=MAX_OUTPUT_BYTES,
            limits=None,
            ids=None,
        )
        if outcome.timed_out:
            return f"ERROR: {script.name} timed out after {SCRIPT_TIMEOUT}s"
        if outcome.exit_code != 0:
            return f"ERROR (exit {outcome.exit_code}):\n{outcome.stderr}"
        return outcome.stdout

    return ToolDef(
        name=f"{skill_name}__{script.stem}",
        description=f"Run the {skill_name} skill's script {script.name}; command holds its arguments.",
        input_schema={
            "type": "object",
            "properties": {"command": {"type": "string", "description": "Arguments, shell-quoted"}},
        },
        func=run_script,
        timeout_seconds=SCRIPT_TIMEOUT + 15,
    )


def _read_tool(skill_name: str, root: Path, allowed: list[str]) -> ToolDef:
    resolved_root = root.resolve()

    def read_skill_file(path: str = "") -> str:
        if not path:
            return "Files: " + ", ".join(allowed)
        target = (resolved_root / path).resolve()
        relative = str(target.relative_to(resolved_root)) if target.is_relative_to(resolved_root) else None
        if relative is None or relative not in allowed:
            return f"ERROR: {path!r} is not one of this skill's files: {', '.join(allowed)}"
        data = target.read_bytes()[:MAX_READ_BYTES]
        return data.decode("utf-8", errors="replace")

    return ToolDef(
        name=f"{skill_name}__read_skill_file",
        description=f"Read one of the {skill_name} skill's files (empty path: list them).",
        input_schema={"type": "object", "properties": {"path": {"type": "string"}}},
        func=read_skill_file,
    )


def skill(
    path: str | os.PathLike[str],
    model: str | ScriptedModel = "",
    agent_models: Mapping[str, str] | None = None,
    search_path: list[str] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Agent:
    """The skill in directory ``path`` as an :class:`Agent`.

    ``model`` is a ``provider/model`` string or a :class:`ScriptedModel` (to run the skill
    offline, in tests and examples).

    ``agent_models`` picks a model per sub-agent (by stem); ``params`` override the front
    matter's defaults. A skill the body refers to ("use the <name> skill") is offered as
    an agent tool, found next to this one, in ``./.agents/skills``, ``~/.agents/skills`` or
    ``search_path``.

    Raises:
        SkillLoadError: no ``SKILL.md``, unreadable front matter, or PyYAML missing.
        ConfigurationError: the front matter has no usable ``name``.
    """
    return _load(Path(path), model, agent_models, search_path or [], params, loading=())


def _load(
    root: Path,
    model: str | ScriptedModel,
    agent_models: Mapping[str, str] | None,
    search_path: list[str],
    params: Mapping[str, Any] | None,
    *,
    loading: tuple[Path, ...],
) -> Agent:
    manifest = root / "SKILL.md"
    if not manifest.is_file():
        raise SkillLoadError(f"{root} is not a skill: it has no SKILL.md")
    meta, body = _front_matter(manifest.read_text(encoding="utf-8"), manifest)
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{manifest}: the front matter needs a 'name'")
    name = name.replace("-", "_")
    merged = {**_default_params(meta.get("params")), **dict(params or {})}
    instructions = body.strip()
    if merged:
        instructions += "\n\n" + format_skill_params(merged)
    tools: list[Any] = []
    scripts_dir = root / "scripts"
    if scripts_dir.is_dir():
        tools += [_script_tool(name, root, s) for s in sorted(scripts_dir.iterdir()) if s.is_file()]
    resources = _resources(root)
    if resources:
        tools.append(_read_tool(name, root, resources))
    for helper in sorted(root.glob("*-agent.md")):
        stem = helper.name.removesuffix("-agent.md")
        sub = Agent(
            name=f"{name}_{stem.replace('-', '_')}",
            model=(agent_models or {}).get(stem, model),
            instructions=helper.read_text(encoding="utf-8"),
        )
        tools.append(agent_tool(sub, description=f"The {stem} helper of the {name} skill"))
    here = (*loading, root.resolve())
    for other in _referenced_skills(body, root, search_path, here):
        referenced = _load(other, model, None, search_path, None, loading=here)
        tools.append(
            agent_tool(referenced, description=f"The {referenced.name} skill, which {name} refers to")
        )
    return Agent(name=name, model=model, instructions=instructions, tools=tools)


def _referenced_skills(
    body: str, root: Path, search_path: list[str], loading: tuple[Path, ...]
) -> list[Path]:
    """Skill directories named by "invoke/use/call [the] <name> skill" in ``body``, looked up
    next to this skill, then in ``./.agents/skills``, ``~/.agents/skills`` and
    ``search_path``. A name found nowhere is left as text; one being loaded (a cycle) is
    skipped."""
    places = [root.resolve().parent, Path.cwd() / ".agents" / "skills", Path.home() / ".agents" / "skills"]
    places += [Path(p) for p in search_path]
    found: list[Path] = []
    for name in dict.fromkeys(m.group(1) for m in _SKILL_REFERENCE.finditer(body)):
        for place in places:
            candidate = (place / name).resolve()
            if (candidate / "SKILL.md").is_file():
                if candidate not in loading and candidate not in found:
                    found.append(candidate)
                break
    return found


def load_skills(
    path: str | os.PathLike[str],
    model: str | ScriptedModel = "",
    agent_models: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Agent]:
    """Every sub-directory of ``path`` holding a ``SKILL.md``, as agents by skill name
    (``agent_models`` keyed by directory name)."""
    found: dict[str, Agent] = {}
    for entry in sorted(Path(path).iterdir()):
        if (entry / "SKILL.md").is_file():
            agent = skill(entry, model=model, agent_models=(agent_models or {}).get(entry.name))
            found[agent.name] = agent
    return found
