"""AgentSpec: the JSON an ``Agent`` compiles to (``agentConfig`` on the wire).

The shape follows the reference product's camelCase ``AgentConfig`` so that programs and
tools written for it keep working. The server stores every spec by content hash; an
execution records the hash it started with, so a redeploy never changes a run in flight.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from agentspan.protocol._base import WireModel

SPEC_SCHEMA_VERSION = 1
"""Version of the spec document. Readers accept every version up to this one."""

NAME_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")

Strategy = Literal["handoff", "sequential", "parallel", "router", "round_robin", "random", "swarm", "manual"]

DEFAULT_TOOL_RETRIES = 2
DEFAULT_TOOL_RETRY_DELAY_SECONDS = 1.0


class ToolConfig(WireModel):
    """One tool offered to the model."""

    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    output_schema: dict[str, Any] | None = None
    tool_type: str = "worker"
    approval_required: bool = False
    timeout_seconds: float | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    retry_count: int | None = None
    """Retries after the first failed attempt (``None`` = the server default)."""
    retry_delay_seconds: float | None = None
    """Base delay for exponential backoff between attempts."""
    retryable: bool = True
    """``False``: after an ambiguous loss (lease expired mid-run) the tool is not re-run."""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not value or not re.match(r"^[a-zA-Z0-9_.-]{1,128}$", value):
            raise ValueError(f"invalid tool name {value!r}: use 1-128 letters, digits, '_', '-' or '.'")
        return value


class AgentConfig(WireModel):
    """A serialised agent, recursively including its sub-agents."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SPEC_SCHEMA_VERSION
    name: str
    model: str | None = None
    base_url: str | None = None
    strategy: Strategy | None = None
    max_turns: int = 25
    timeout_seconds: float = 0
    external: bool = False
    instructions: str | dict[str, Any] | None = None
    tools: list[ToolConfig] = Field(default_factory=list)
    agents: list[AgentConfig] = Field(default_factory=list)
    output_type: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    introduction: str | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"invalid agent name {value!r}: it must match {NAME_PATTERN.pattern}")
        return value

    @field_validator("max_turns")
    @classmethod
    def _positive_turns(cls, value: int) -> int:
        if value < 1:
            raise ValueError("maxTurns must be at least 1")
        return value

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SPEC_SCHEMA_VERSION:
            raise ValueError(
                f"agent spec schemaVersion {value} is newer than this server supports "
                f"({SPEC_SCHEMA_VERSION}); upgrade the server"
            )
        return value

    def tool(self, name: str) -> ToolConfig | None:
        """The tool called ``name``, if this agent offers it."""
        for tool in self.tools:
            if tool.name == name:
                return tool
        return None

    def canonical_json(self) -> str:
        """Deterministic JSON used for hashing and storage."""
        return json.dumps(self.wire(), sort_keys=True, separators=(",", ":"))

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def worker_task_names(self) -> list[str]:
        """Names of every task a worker must serve for this agent tree: tools, and the
        user's decision functions (router, stop_when, gate, handoff conditions)."""
        names: list[str] = []

        def add(name: object) -> None:
            if isinstance(name, str) and name and name not in names:
                names.append(name)

        extra = self.model_extra or {}
        for key in ("stopWhen", "gate", "router"):
            value = extra.get(key)
            if isinstance(value, dict):
                add(value.get("taskName"))
        for handoff in extra.get("handoffs") or []:
            if isinstance(handoff, dict):
                add(handoff.get("taskName"))
        nested: list[AgentConfig] = list(self.agents)
        router = extra.get("router")
        if isinstance(router, dict) and router.get("name"):
            nested.append(AgentConfig.model_validate(router))
        for tool in self.tools:
            if tool.tool_type == "worker":
                add(tool.name)
            child = tool.config.get("agentConfig") if tool.tool_type == "agent_tool" else None
            if isinstance(child, dict):
                nested.append(AgentConfig.model_validate(child))
        for sub in nested:
            for name in sub.worker_task_names():
                add(name)
        return names
