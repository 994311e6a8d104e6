"""Prompt templates: ``instructions=PromptTemplate(name, variables, version)`` rendered on
the server, at start, from text files the operator keeps in one directory
(``AGENTSPAN_PROMPT_TEMPLATES_DIR``, default ``<data dir>/prompts``):

* ``<name>.txt`` — the template (the latest);
* ``<name>.v<N>.txt`` — version ``N``; without a plain file, the highest version is the latest.

``${key}`` placeholders are replaced with ``str(value)`` of the template's variables;
others are left as they are (as the reference product does). The rendered text is what
the started execution stores, so editing a template never changes a run in flight. A
template that does not exist refuses the start (400 naming the agent and the template).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agentspan.protocol.spec import AgentConfig, AgentTool
from agentspan.server.errors import InvalidAgent

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")
MAX_TEMPLATE_BYTES = 256 * 1024


def render(text: str, variables: dict[str, Any]) -> str:
    """``${key}`` → ``str(variables[key])``; unknown placeholders stay."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(variables[key]) if key in variables else match.group(0)

    return PLACEHOLDER.sub(value, text)


class PromptTemplates:
    """The operator's template files (read at each start: editing one needs no restart)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def resolve(self, spec: AgentConfig, path: str = "") -> AgentConfig:
        """``spec`` with every template in its tree rendered into its instructions."""
        where = f"{path}{spec.name}"
        update: dict[str, Any] = {}
        if isinstance(spec.instructions, dict):
            update["instructions"] = self._instructions(spec.instructions, where)
        nested = f"{where}/"
        agents = [self.resolve(a, nested) for a in spec.agents]
        if _changed(agents, spec.agents):
            update["agents"] = agents
        if isinstance(spec.router, AgentConfig):
            router = self.resolve(spec.router, nested)
            if router is not spec.router:
                update["router"] = router
        tools = [self._tool(t, nested) if isinstance(t, AgentTool) else t for t in spec.tools]
        if _changed(tools, spec.tools):
            update["tools"] = tools
        return spec.model_copy(update=update) if update else spec

    def _tool(self, tool: AgentTool, path: str) -> AgentTool:
        child = tool.config.agent_config
        if child is None:
            return tool
        resolved = self.resolve(child, path)
        if resolved is child:
            return tool
        return tool.model_copy(update={"config": tool.config.model_copy(update={"agent_config": resolved})})

    def _instructions(self, ref: dict[str, Any], where: str) -> str:
        if ref.get("type") != "prompt_template":
            raise InvalidAgent(
                f"agent '{where}': instructions must be text or a prompt template reference "
                '({"type": "prompt_template", "name": ...})'
            )
        name = ref.get("name")
        version = ref.get("version")
        variables = ref.get("variables") or {}
        if not isinstance(name, str) or not NAME.match(name) or ".." in name:
            raise InvalidAgent(f"agent '{where}': prompt template name {name!r} is not a valid name")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise InvalidAgent(f"agent '{where}': prompt template version must be a whole number >= 1")
        if not isinstance(variables, dict):
            raise InvalidAgent(f"agent '{where}': prompt template variables must be an object")
        text = self._text(name, version)
        if text is None:
            which = f"version {version} of " if version is not None else ""
            raise InvalidAgent(
                f"agent '{where}': {which}prompt template '{name}' does not exist on this server "
                "(templates are text files in the server's AGENTSPAN_PROMPT_TEMPLATES_DIR)"
            )
        return render(text, variables)

    def _text(self, name: str, version: int | None) -> str | None:
        if self.directory is None or not self.directory.is_dir():
            return None
        if version is not None:
            return _read(self.directory / f"{name}.v{version}.txt")
        plain = _read(self.directory / f"{name}.txt")
        if plain is not None:
            return plain
        versions = [
            int(m.group(1))
            for p in self.directory.glob(f"{glob_escape(name)}.v*.txt")
            if (m := re.fullmatch(re.escape(name) + r"\.v(\d{1,9})\.txt", p.name))
        ]
        return _read(self.directory / f"{name}.v{max(versions)}.txt") if versions else None


def _changed(new: list[Any], old: list[Any]) -> bool:
    return any(n is not o for n, o in zip(new, old, strict=True))


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[\]])", r"[\1]", name)


def _read(path: Path) -> str | None:
    try:
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            data = fh.read(MAX_TEMPLATE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_TEMPLATE_BYTES:
        return None
    return data.decode("utf-8", errors="replace")
