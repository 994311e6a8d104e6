"""The operator's request limits, and the checks a start must pass before anything runs.

A spec that exceeds a limit is refused when it arrives (``limit_exceeded``, 413, with a
``limit`` member naming the limit, its value, what the request asked for and where), not
discovered halfway through a run. The checks are pure and cost one walk over the agent
tree, so ``ExecutionService.start`` runs them first, before the expensive work (checking
the tree against the executors, hashing and storing the spec). The same walk refuses a
model string no provider understands (``invalid_model``, 400).

The limit on parallel tool calls is not a start check: it bounds each model reply, and
the engine applies it (``engine/tool_calls.py::refuse_over_limit``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentspan.protocol.api import RespondRequest, StartRequest
from agentspan.protocol.errors import LimitInfo
from agentspan.protocol.spec import AgentConfig, LlmGuardrailSpec
from agentspan.server.errors import InvalidModel, LimitExceeded
from agentspan.server.settings import Settings

ModelProblem = Callable[[str], str | None]
"""Why a model string cannot be used (``ProviderRegistry.model_problem``), or None."""

SETTINGS = {
    "tools_per_agent": "AGENTSPAN_MAX_TOOLS_PER_AGENT",
    "agents_per_tree": "AGENTSPAN_MAX_AGENTS_PER_TREE",
    "agent_depth": "AGENTSPAN_MAX_AGENT_DEPTH",
    "prompt_bytes": "AGENTSPAN_MAX_PROMPT_BYTES",
    "parallel_tool_calls": "AGENTSPAN_MAX_PARALLEL_TOOL_CALLS",
    "message_bytes": "AGENTSPAN_MAX_MESSAGE_BYTES",
    "queued_messages": "AGENTSPAN_MAX_QUEUED_MESSAGES",
}
"""Each limit's name (as in ``LimitInfo.name``) and the variable that sets it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force (defaults as in ``Settings``)."""

    tools_per_agent: int = 1000
    agents_per_tree: int = 256
    agent_depth: int = 16
    prompt_bytes: int = 1024 * 1024
    parallel_tool_calls: int = 64
    message_bytes: int = 64 * 1024
    queued_messages: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            tools_per_agent=settings.max_tools_per_agent,
            agents_per_tree=settings.max_agents_per_tree,
            agent_depth=settings.max_agent_depth,
            prompt_bytes=settings.max_prompt_bytes,
            parallel_tool_calls=settings.max_parallel_tool_calls,
            message_bytes=settings.max_message_bytes,
            queued_messages=settings.max_queued_messages,
        )

    def exceeded(self, name: str, actual: int, path: str, what: str) -> LimitExceeded:
        """The error for ``actual`` over the limit ``name`` at ``path`` (``what``: the
        measured thing, e.g. ``"50000 tools"``)."""
        limit = LimitInfo(
            name=name, setting=SETTINGS[name], max=getattr(self, name), actual=actual, path=path
        )
        return LimitExceeded(
            f"{path}: {what}, over this server's limit of {limit.max} "
            f"({limit.name}; the operator sets it with {limit.setting})",
            limit,
        )


def check_start(req: StartRequest, limits: Limits, model_problem: ModelProblem | None = None) -> None:
    """Refuse a start that exceeds a limit or names a model no provider understands."""
    size = utf8_len(req.prompt) + sum(utf8_len(m) for m in req.media)
    if size > limits.prompt_bytes:
        raise limits.exceeded("prompt_bytes", size, "prompt", f"the prompt (with media) has {size} bytes")
    _TreeCheck(limits, model_problem).walk(req.agent_config, "", 1)


PRECHECK_BYTES = 64 * 1024
"""Start bodies at least this large are counted (``precheck_start_json``) before they are
validated in full: counting 50,000 tools costs a quarter of validating them."""


class _Skipped(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _AgentShape(BaseModel):
    """Only what the counting needs of an agent (everything else is skipped unread)."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    tools: list[_Skipped] = Field(default_factory=list)
    agents: list[_AgentShape] = Field(default_factory=list)


class _StartShape(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_config: _AgentShape = Field(alias="agentConfig")


def precheck_start_json(body: bytes, limits: Limits) -> None:
    """Refuse a large start body whose tree has too many tools or agents, before the
    full validation (which builds every tool) runs. The full checks still follow
    (``check_start``); a body that does not parse is left to the full validation to
    describe."""
    if len(body) < PRECHECK_BYTES:
        return
    try:
        shape = _StartShape.model_validate_json(body)
    except ValidationError:
        return
    agents = 0
    level = [(shape.agent_config, shape.agent_config.name)]
    depth = 0
    while level:
        depth += 1
        if depth > limits.agent_depth:
            raise limits.exceeded("agent_depth", depth, level[0][1], f"agents nest {depth} deep")
        agents += len(level)
        if agents > limits.agents_per_tree:
            raise limits.exceeded(
                "agents_per_tree",
                agents,
                level[0][1],
                f"the tree has more than {limits.agents_per_tree} agents",
            )
        for agent, where in level:
            if len(agent.tools) > limits.tools_per_agent:
                raise limits.exceeded(
                    "tools_per_agent",
                    len(agent.tools),
                    where,
                    f"agent '{where}' has {len(agent.tools)} tools",
                )
        level = [(sub, f"{where}/{sub.name}") for agent, where in level for sub in agent.agents]


def check_answer(answer: RespondRequest, limits: Limits) -> None:
    """Refuse a human's answer larger than a prompt may be: its reason becomes model input
    and the whole answer is kept in the execution's state."""
    size = utf8_len(answer.model_dump_json(by_alias=True, exclude_none=True))
    if size > limits.prompt_bytes:
        raise limits.exceeded("prompt_bytes", size, "answer", f"the answer has {size} bytes")


class _TreeCheck:
    """One walk over an agent tree, counting agents as it goes."""

    def __init__(self, limits: Limits, model_problem: ModelProblem | None) -> None:
        self.limits = limits
        self.model_problem = model_problem
        self.agents = 0

    def walk(self, spec: AgentConfig, parent: str, depth: int) -> None:
        where = f"{parent}{spec.name}"
        limits = self.limits
        self.agents += 1
        if self.agents > limits.agents_per_tree:
            raise limits.exceeded(
                "agents_per_tree",
                self.agents,
                where,
                f"the tree has more than {limits.agents_per_tree} agents",
            )
        if depth > limits.agent_depth:
            raise limits.exceeded("agent_depth", depth, where, f"agents nest {depth} deep")
        if len(spec.tools) > limits.tools_per_agent:
            raise limits.exceeded(
                "tools_per_agent", len(spec.tools), where, f"agent '{where}' has {len(spec.tools)} tools"
            )
        size = _instructions_len(spec)
        if size > limits.prompt_bytes:
            raise limits.exceeded(
                "prompt_bytes", size, where, f"the instructions of agent '{where}' have {size} bytes"
            )
        if self.model_problem is not None:
            self._check_models(spec, where, self.model_problem)
        for nested in spec.nested_agents():
            self.walk(nested, f"{where}/", depth + 1)

    @staticmethod
    def _check_models(spec: AgentConfig, where: str, model_problem: ModelProblem) -> None:
        """The agent's model and the judge models of its LLM guardrails (its own and its
        tools'): each must name a provider this server knows."""
        named: list[tuple[str, str]] = [("", spec.model)] if spec.model else []
        rails = [*(spec.guardrails or ()), *(r for t in spec.tools for r in t.guardrails or ())]
        named += [(f"guardrail '{r.name}': ", r.model) for r in rails if isinstance(r, LlmGuardrailSpec)]
        for what, model in named:
            problem = model_problem(model)
            if problem is not None:
                raise InvalidModel(f"agent '{where}': {what}{problem}")


def utf8_len(text: str) -> int:
    """``len(text.encode())`` without the copy for ASCII text (the usual case)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _instructions_len(spec: AgentConfig) -> int:
    instructions = spec.instructions
    if instructions is None:
        return 0
    if isinstance(instructions, str):
        return utf8_len(instructions)
    return utf8_len(json.dumps(instructions, default=str))
