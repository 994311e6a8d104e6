"""Result, status and event types returned by the runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"
    TIMED_OUT = "TIMED_OUT"


class FinishReason(str, Enum):
    STOP = "stop"
    LENGTH = "LENGTH"
    TOOL_CALLS = "tool_calls"
    ERROR = "error"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    GUARDRAIL = "guardrail"
    REJECTED = "rejected"
    STOPPED = "stopped"
    MAX_TURNS = "max_turns"
    BUDGET_EXCEEDED = "budget_exceeded"
    TERMINATION = "termination"
    STOP_WHEN = "stop_when"
    GATE = "gate"


class EventType(str, Enum):
    """Every event type of the server's catalog (``agentspan.protocol.events``).

    Listed here rather than imported so the SDK does not build the catalog's models at
    import; tests/unit/test_events_catalog.py checks the two lists are the same. The first
    ten members are the reference product's, in its order.
    """

    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    HANDOFF = "handoff"
    WAITING = "waiting"
    MESSAGE = "message"
    ERROR = "error"
    DONE = "done"
    GUARDRAIL_PASS = "guardrail_pass"
    GUARDRAIL_FAIL = "guardrail_fail"
    LLM_CALL = "llm_call"
    PLAN = "plan"
    OUTPUT_INVALID = "output_invalid"
    BUDGET_EXCEEDED = "budget_exceeded"
    TOOL_RETRY = "tool_retry"
    APPROVAL = "approval"
    SELECTION = "selection"
    TERMINATED = "terminated"
    GATE_STOPPED = "gate_stopped"
    BRANCHES_FAILED = "branches_failed"
    ERROR_IGNORED = "error_ignored"
    PAUSED = "paused"
    RESUMED = "resumed"
    WORKER_MISSING = "worker_missing"
    WORKER_FOUND = "worker_found"
    TOOLS_REQUIRED = "tools_required"
    HUMAN_INPUT = "human_input"
    MESSAGE_RECEIVED = "message_received"
    SIGNAL = "signal"
    CALLBACK = "callback"
    CONTEXT_CONDENSED = "context_condensed"
    MEMORY_RECALLED = "memory_recalled"


@dataclass
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    """Estimated from the server's price table; ``None`` if a model used has no price."""


@dataclass
class DeploymentInfo:
    """What ``deploy()`` stored: the name to run it by and, beyond the reference's two
    fields, its ``version`` and whether that version is new (``created``)."""

    registered_name: str
    agent_name: str
    version: int | None = None
    created: bool = True


_HIDDEN_ARGS = ("_agent_state", "method", "__agentspan_ctx__")


@dataclass
class AgentEvent:
    """One event of an execution (``type`` is an ``EventType`` value or another string).

    Besides the reference product's fields it carries ``id`` (the event's sequence number,
    usable to resume a stream), ``call_id`` (pairs ``tool_call``/``tool_result``),
    ``pending_tool`` (on ``waiting``) and ``data`` (extra details such as the finish reason).
    """

    type: str
    content: str | None = None
    tool_name: str | None = None
    args: dict[str, Any] | None = None
    result: Any = None
    target: str | None = None
    output: Any = None
    execution_id: str = ""
    guardrail_name: str | None = None
    id: int = 0
    call_id: str | None = None
    pending_tool: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    timestamp: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.type, EventType):
            self.type = self.type.value
        if self.args:
            cleaned = {k: v for k, v in self.args.items() if k not in _HIDDEN_ARGS}
            self.args = cleaned or None

    @classmethod
    def from_wire(cls, event: str, data: dict[str, Any]) -> AgentEvent:
        return cls(
            type=event or str(data.get("type", "")),
            content=data.get("content"),
            tool_name=data.get("toolName"),
            args=data.get("args"),
            result=data.get("result"),
            target=data.get("target"),
            output=data.get("output"),
            execution_id=data.get("executionId", ""),
            guardrail_name=data.get("guardrailName"),
            id=int(data.get("id") or 0),
            call_id=data.get("callId"),
            pending_tool=data.get("pendingTool"),
            data=data.get("data"),
            timestamp=int(data.get("timestamp") or 0),
        )


@dataclass
class AgentStatus:
    execution_id: str = ""
    is_complete: bool = False
    is_running: bool = False
    is_waiting: bool = False
    output: Any = None
    status: str = ""
    reason: str | None = None
    current_task: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    pending_tool: dict[str, Any] | None = None
    waiting_reason: str | None = None
    """Why the execution is not progressing (approval, paused, no worker), if it is not."""
    finish_reason: str | None = None
    token_usage: TokenUsage | None = None

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> AgentStatus:
        usage = body.get("tokenUsage")
        return cls(
            execution_id=body.get("executionId", ""),
            is_complete=bool(body.get("isComplete")),
            is_running=bool(body.get("isRunning")),
            is_waiting=bool(body.get("isWaiting")),
            output=body.get("output"),
            status=body.get("status", ""),
            reason=body.get("reasonForIncompletion"),
            pending_tool=body.get("pendingTool"),
            waiting_reason=body.get("waitingReason"),
            finish_reason=body.get("finishReason"),
            token_usage=_usage(usage) if usage else None,
        )


def _usage(body: dict[str, Any]) -> TokenUsage:
    cost = body.get("costUsd")
    return TokenUsage(
        prompt_tokens=int(body.get("promptTokens", 0)),
        completion_tokens=int(body.get("completionTokens", 0)),
        total_tokens=int(body.get("totalTokens", 0)),
        cached_tokens=int(body.get("cachedTokens", 0)),
        reasoning_tokens=int(body.get("reasoningTokens", 0)),
        cost_usd=float(cost) if cost is not None else None,
    )


@dataclass
class AgentResult:
    """The outcome of a run.

    ``output`` is the agent's final answer: the text for plain agents, an instance of
    ``output_type`` when the agent declares one and the answer parses, and for
    pipelines the last step's output. (The reference product always returns a dict
    here; see docs/compatibility.md.)
    """

    output: Any = None
    execution_id: str = ""
    correlation_id: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: str = Status.COMPLETED.value
    token_usage: TokenUsage | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    finish_reason: FinishReason | str | None = None
    error: str | None = None
    events: list[AgentEvent] = field(default_factory=list)
    sub_results: dict[str, Any] = field(default_factory=dict)

    @property
    def is_success(self) -> bool:
        return self.status == Status.COMPLETED.value

    @property
    def is_failed(self) -> bool:
        return self.status in (Status.FAILED.value, Status.TERMINATED.value, Status.TIMED_OUT.value)

    @property
    def is_rejected(self) -> bool:
        return self.finish_reason == FinishReason.REJECTED

    @property
    def guardrails(self) -> list[dict[str, Any]]:
        """Every guardrail verdict of the run, in order: ``{"name", "position", "passed",
        "message"}`` (read from the ``guardrail_pass``/``guardrail_fail`` events)."""
        verdicts: list[dict[str, Any]] = []
        for event in self.events:
            if event.type in (EventType.GUARDRAIL_PASS.value, EventType.GUARDRAIL_FAIL.value):
                verdicts.append(
                    {
                        "name": event.guardrail_name,
                        "position": (event.data or {}).get("position"),
                        "passed": event.type == EventType.GUARDRAIL_PASS.value,
                        "message": event.content or "",
                    }
                )
        return verdicts

    def print_result(self) -> None:
        width = 60
        print("╭" + "─" * (width - 2) + "╮")
        print("│" + " Agent Output ".center(width - 2) + "│")
        print("╰" + "─" * (width - 2) + "╯")
        if self.is_failed:
            print(f"ERROR: {self.error or self.status}")
        elif isinstance(self.output, dict) and "result" in self.output:
            print(self.output["result"])
        else:
            print(self.output)
        for name, sub in self.sub_results.items():
            print(f"\n[{name}]\n{sub}")
        print()
        print(f"Tool calls: {len(self.tool_calls)}")
        usage = self.token_usage
        if usage is not None and usage.total_tokens:
            print(
                f"Tokens: {usage.total_tokens} total ({usage.prompt_tokens} prompt, "
                f"{usage.completion_tokens} completion)"
            )
            if usage.cost_usd:
                print(f"Estimated cost: ${usage.cost_usd:.6f}")
        else:
            print("Tokens: —")
        reason = (
            self.finish_reason.value if isinstance(self.finish_reason, FinishReason) else self.finish_reason
        )
        print(f"Finish reason: {reason}")
        print(f"Execution ID: {self.execution_id}")


def finish_reason_of(raw: str | None, status: str) -> FinishReason | str | None:
    if raw is None:
        return {
            "FAILED": FinishReason.ERROR,
            "TERMINATED": FinishReason.CANCELLED,
            "TIMED_OUT": FinishReason.TIMEOUT,
        }.get(status)
    try:
        return FinishReason(raw)
    except ValueError:
        return raw


def result_from_detail(
    detail: dict[str, Any],
    *,
    output_type: type | None = None,
    events: list[AgentEvent] | None = None,
    correlation_id: str | None = None,
) -> AgentResult:
    status = str(detail.get("status", ""))
    output = detail.get("output")
    if output_type is not None and output is not None and status == Status.COMPLETED.value:
        output = _parse_output(output, output_type)
    return AgentResult(
        output=output,
        execution_id=detail.get("executionId", ""),
        correlation_id=correlation_id,
        messages=list(detail.get("messages") or []),
        tool_calls=[
            {
                "name": c.get("name"),
                "args": c.get("args") or {},
                "result": c.get("result"),
                "status": c.get("status"),
                "call_id": c.get("callId"),
                **({"approval": c["approval"]} if c.get("approval") else {}),
                **({"error": c["error"]} if c.get("error") else {}),
            }
            for c in detail.get("toolCalls") or []
        ],
        status=status,
        token_usage=_usage(detail.get("tokenUsage") or {}),
        finish_reason=finish_reason_of(detail.get("finishReason"), status),
        error=detail.get("error"),
        events=events or [],
        sub_results=dict(detail.get("subResults") or {}),
        metadata=dict(detail.get("metadata") or {}),
    )


def _parse_output(value: Any, output_type: type) -> Any:
    """The server validated the answer against the type's JSON schema; build the instance."""
    from pydantic import TypeAdapter, ValidationError

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(output_type)
        if isinstance(value, str):
            return adapter.validate_json(_strip_fences(value))
        return adapter.validate_python(value)
    except (ValidationError, ValueError, TypeError):
        return value  # keep the raw answer rather than lose it


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped
