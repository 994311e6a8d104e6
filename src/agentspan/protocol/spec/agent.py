"""``AgentConfig``: the JSON an ``Agent`` compiles to (``agentConfig`` on the wire).

The shape follows the reference product's camelCase ``AgentConfig`` so that programs and
tools written for it keep working. The server stores every spec by content hash; an
execution records the hash it started with, so a redeploy never changes a run in flight.
Every key the SDK writes has a typed field; unknown keys still pass through (``extra``)
so a newer SDK's additions survive an older server.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agentspan.protocol._base import WireModel
from agentspan.protocol.spec._parts import TaskRef, tag_of
from agentspan.protocol.spec.code import CliSpec, CodeExecutionSpec
from agentspan.protocol.spec.conditions import GateSpec, HandoffSpec, TerminationSpec
from agentspan.protocol.spec.credentials import CredentialRefs
from agentspan.protocol.spec.guardrails import GuardrailSpec
from agentspan.protocol.spec.memory import CallbackSpec, MemorySpec, SessionStateSpec, ThinkingSpec
from agentspan.protocol.spec.tools import (
    AgentTool,
    AgentToolSettings,
    AnyTool,
    ApiTool,
    AudioTool,
    HandoffTool,
    HttpTool,
    HumanTool,
    ImageTool,
    McpTool,
    MessageWaitTool,
    OtherTool,
    PdfTool,
    ToolConfig,
    VideoTool,
    WorkerTool,
)
from agentspan.protocol.spec.upgrade import SPEC_SCHEMA_VERSION, UPGRADED_KEYS, check_version, upgrade_value

NAME_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")

Strategy = Literal[
    "handoff", "sequential", "parallel", "router", "round_robin", "random", "swarm", "manual", "plan_execute"
]


def _router_kind(value: Any) -> str:
    return "agent" if tag_of(value, "name", "name") else "function"


class AgentConfig(WireModel):
    """A serialised agent, recursively including its sub-agents."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = 1
    """A document without one is version 1; validation leaves every spec at the current one."""
    name: str
    model: str | None = None
    base_url: str | None = None
    strategy: Strategy | None = None
    max_turns: int = 25
    timeout_seconds: float = Field(default=0, ge=0, allow_inf_nan=False)
    """``0``: no deadline."""
    external: bool = False
    instructions: str | dict[str, Any] | None = None
    if TYPE_CHECKING:
        # Any ToolConfig may be put in; validation turns it into its toolType's variant.
        tools: list[ToolConfig] = Field(default_factory=list)
    else:
        tools: list[AnyTool] = Field(default_factory=list)
    agents: list[AgentConfig] = Field(default_factory=list)
    output_type: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    introduction: str | None = None
    metadata: dict[str, Any] | None = None

    # Team and loop control.
    router: (
        Annotated[
            Annotated[AgentConfig, Tag("agent")] | Annotated[TaskRef, Tag("function")],
            Discriminator(_router_kind),
        ]
        | None
    ) = None
    """The agent or the user's function that picks a sub-agent (strategy ``router``)."""
    stop_when: TaskRef | None = None
    termination: TerminationSpec | None = None
    handoffs: list[HandoffSpec] | None = None
    swarm_handoffs: list[HandoffSpec] | None = None
    """Written by the server into a swarm member's spec: the team's tool-result handoffs."""
    allowed_transitions: dict[str, list[str]] | None = None
    gate: GateSpec | None = None
    planner: bool | None = None
    include_contents: Literal["default", "none"] | None = None
    required_tools: list[str] | None = None

    # Checks, hooks and the model call.
    guardrails: list[GuardrailSpec] | None = None
    callbacks: list[CallbackSpec] | None = None
    memory: MemorySpec | None = None
    session_state: SessionStateSpec | None = None
    """Shares the run's state with the parent; ``outputKey`` and ``{var}`` templating."""
    thinking_config: ThinkingSpec | None = None
    llm_options: dict[str, Any] | None = None
    """Provider options passed through to the model call."""
    scripted_turns: list[dict[str, Any]] | None = None
    """A ScriptedModel's replies, carried to the server's scripted provider."""

    # What the agent's tools may touch.
    code_execution: CodeExecutionSpec | None = None
    cli_config: CliSpec | None = None
    credentials: CredentialRefs | None = None

    # Upgrading an older document happens field by field (it is declared first, so the
    # fields after it see the document's version) and stays out of the way of a current
    # one: a whole-document "before" hook would turn every request's JSON into Python
    # objects before validating it, which doubled the cost of reading a spec.
    @field_validator("schema_version", mode="plain")
    @classmethod
    def _known_version(cls, value: Any) -> int:
        return check_version(value)

    @field_validator(*UPGRADED_KEYS, mode="before")
    @classmethod
    def _upgrade_field(cls, value: Any, info: ValidationInfo) -> Any:
        version = info.data.get("schema_version", SPEC_SCHEMA_VERSION)
        if version >= SPEC_SCHEMA_VERSION or info.field_name is None:
            return value
        return upgrade_value(info.field_name, value, version)

    @model_validator(mode="after")
    def _current_version(self) -> AgentConfig:
        if self.schema_version < SPEC_SCHEMA_VERSION:
            self.schema_version = SPEC_SCHEMA_VERSION
        return self

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

    _tool_index: tuple[list[ToolConfig], dict[str, ToolConfig]] | None = PrivateAttr(default=None)
    """``tools`` by name, built on first use for the list it was built from (a copy with
    other tools has another list, and builds its own)."""

    def tool(self, name: str) -> ToolConfig | None:
        """The tool called ``name``, if this agent offers it (the first of that name), in
        constant time: the engine asks once per tool call, and an agent may offer
        thousands of tools, all called in one turn."""
        index = self._tool_index
        if index is None or index[0] is not self.tools:
            by_name: dict[str, ToolConfig] = {}
            for tool in self.tools:
                by_name.setdefault(tool.name, tool)
            index = self._tool_index = (self.tools, by_name)
        return index[1].get(name)

    def canonical_json(self) -> str:
        """Deterministic JSON used for hashing and storage."""
        return json.dumps(self.wire(), sort_keys=True, separators=(",", ":"))

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON."""
        return self.stored_form()[0]

    def stored_form(self) -> tuple[str, str]:
        """``(content hash, canonical JSON)``: what the store keeps, serialised once (the
        JSON costs more than validating the spec did)."""
        document = self.canonical_json()
        return hashlib.sha256(document.encode()).hexdigest(), document

    def nested_agents(self) -> list[AgentConfig]:
        """Agents this one may start: sub-agents, a router agent and ``agent_tool`` agents."""
        nested: list[AgentConfig] = list(self.agents)
        if isinstance(self.router, AgentConfig):
            nested.append(self.router)
        for tool in self.tools:
            if isinstance(tool, AgentTool) and tool.config.agent_config is not None:
                nested.append(tool.config.agent_config)
        return nested

    def worker_task_names(self) -> list[str]:
        """Names of every task a worker must serve for this agent tree: tools, and the
        user's decision functions (router, stop_when, gate, handoff conditions) and lifecycle
        callbacks."""
        # A dict keeps the first-seen order and makes each addition O(1): with a list,
        # an agent with 50,000 tools took 20 s here.
        names: dict[str, None] = {}

        def add(name: str) -> None:
            if name:
                names.setdefault(name, None)

        for ref in (self.stop_when, self.gate, self.router):
            if isinstance(ref, TaskRef):
                add(ref.task_name)
        for handoff in self.handoffs or []:
            task_name = getattr(handoff, "task_name", None)
            if isinstance(task_name, str):
                add(task_name)
        for tool in self.tools:
            if tool.tool_type == "worker":
                add(tool.name)
        for callback in self.callbacks or ():
            add(callback.task_name)
        for sub in self.nested_agents():
            for name in sub.worker_task_names():
                add(name)
        return list(names)


AgentToolSettings.model_rebuild(_types_namespace={"AgentConfig": AgentConfig})
for _variant in (
    ToolConfig,
    WorkerTool,
    AgentTool,
    HandoffTool,
    HttpTool,
    McpTool,
    ApiTool,
    HumanTool,
    MessageWaitTool,
    OtherTool,
    PdfTool,
    ImageTool,
    AudioTool,
    VideoTool,
):
    _variant.model_rebuild(force=True)
AgentConfig.model_rebuild(force=True)

_ANY_TOOL: TypeAdapter[ToolConfig] = TypeAdapter(AnyTool)


def parse_tool(data: Mapping[str, Any]) -> ToolConfig:
    """The variant of :class:`ToolConfig` that ``data``'s ``toolType`` names, validated
    (wire or Python field names)."""
    return _ANY_TOOL.validate_python(data)
