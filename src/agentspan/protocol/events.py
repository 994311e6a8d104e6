"""The event catalog: every event an execution's log can hold, one model per type.

An execution's log is append-only; the engine emits events as ``EventDraft(type, fields)``
and the driver stores each one as a row: the ``type`` in its own column and ``fields`` as a
JSON object, the *stored payload*. This module says, for each type, which fields that
payload holds and what they mean, so the server, the SDK, the docs and later consumers
(UI, metrics, tracing, webhooks) share one vocabulary instead of string literals.

Payload shape (unchanged by this module, which only describes it):

* top-level keys are the snake_case names of :class:`~agentspan.protocol.api.StreamEvent`
  fields (``content``, ``tool_name``, ``args``, ``result``, ``target``, ``output``,
  ``guardrail_name``, ``pending_tool``, ``call_id``, ``data``); a key is present only when
  the engine set it (``exclude_unset``), and an explicit ``null`` stays (``costUsd``,
  a ``selection`` without a choice);
* inside ``data`` and ``pending_tool`` the keys are already in their wire spelling
  (camelCase, plus ``tool_name`` in ``pendingTool`` as the reference product spells it).

Mapping onto the wire: :class:`StreamEvent` is the flat shape sent over SSE and by
``GET …/events``. Its envelope (``id`` = sequence number, ``type``, ``executionId``,
``timestamp`` in ms) comes from the row, and every payload key becomes the StreamEvent field
of the same name, camelCased on the wire (``tool_name`` → ``toolName``); ``data`` and
``pendingTool`` pass through as they are. :func:`to_stream_event` and
:func:`from_stream_event` do this conversion.

The models forbid unknown keys: the catalog *is* the contract, so a key the engine starts
writing without declaring it here fails the catalog tests (tests/unit/test_events_catalog.py),
which drive the engine and validate every event it emits. Building a model costs a few
microseconds; the stored bytes are the same either way (:func:`to_payload` reproduces the
engine's dicts key for key, in the same order).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from agentspan.protocol.api import TERMINAL_EVENTS, TERMINAL_STATUSES, StreamEvent

__all__ = [
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "NOT_EMITTED_YET",
    "TERMINAL_EVENTS",
    "TERMINAL_STATUSES",
    "Event",
    "event_type_names",
    "from_stream_event",
    "parse_payload",
    "to_payload",
    "to_stream_event",
]


class _EventModel(BaseModel):
    """One event's payload; ``type`` is the discriminator and is not part of the payload."""

    model_config = ConfigDict(extra="forbid")

    type: str


class _DataModel(BaseModel):
    """A nested object (``data``): snake_case in Python, camelCase keys as stored and sent."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


# --- nested documents ---------------------------------------------------------------------


class PendingToolDoc(BaseModel):
    """What a waiting execution waits for (``pendingTool``; also on the status endpoint)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    task_ref_name: str = Field(alias="taskRefName")
    """The waiting call's id (``c1``…), or ``select_agent`` for a manual team's choice."""
    tool_name: str
    parameters: dict[str, Any]
    """The call's arguments; for a selection ``{"options": [agent names]}``."""
    kind: Literal["approval", "outcome_unknown", "selection", "guardrail", "human", "messages"]
    response_schema: dict[str, Any] | None = None
    """JSON schema of the expected answer (selections and ``human`` guardrails)."""


class LlmCallData(_DataModel):
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    latency_ms: float
    cost_usd: float | None
    """Estimated USD; ``None`` when the model has no price in the table."""
    finish_reason: str | None
    """The provider's own finish reason."""
    purpose: Literal["guardrail", "condense", "graph_node", "embedding"] | None = None
    """Set for a call the server made for another reason than the agent's turn (an LLM
    guardrail's judge, the summary that condensed a long conversation), or that a
    LangGraph node made in the worker (``graph_node``: reported, not priced); absent for
    the agent's own calls."""
    message_count: int | None = None
    """How many messages the conversation held when the call was made (its own turn's
    calls only; absent in events recorded before forks): where a fork cuts it."""
    turn: int | None = None
    """The agent's turns completed before the call (its own turn's calls only)."""


class MemoryRecalledData(_DataModel):
    namespace: str
    index: str
    entry_ids: list[str]
    """The entries added to the agent's context, best first (none: nothing relevant)."""
    ranked_by: list[str]
    """Per entry: ``embedding`` or ``lexical``."""
    error: str | None = None
    """Why nothing could be recalled (the run went on without memory)."""


class ContextCondensedData(_DataModel):
    messages_before: int
    """Messages the model call would have been sent."""
    messages_after: int
    """Messages it is sent now (the summary counts as one)."""
    exchanges_condensed: int
    """User and assistant messages newly covered by the summary."""
    upto: int
    """The summary covers the stored messages before this index (``GET …/execution``)."""
    summary_chars: int
    count: int
    """How many times this conversation has been condensed."""


class AttemptData(_DataModel):
    attempt: int


class ToolRetryData(_DataModel):
    attempt: int
    reason: Literal["lease_expired"] | None = None
    """Set when the worker was lost; absent after a reported failure."""
    delay_seconds: int | float
    """``int | float`` keeps the stored number as the engine wrote it (``0`` stays ``0``)."""


class ApprovalData(_DataModel):
    approved: bool
    reason: str
    decided_by: str
    decided_at: float
    extra: dict[str, Any] | None = None
    """Whatever else the approver sent; absent when empty."""


class SelectionData(_DataModel):
    decided_by: str


class HandoffData(_DataModel):
    source: str | None = None
    """The agent handing over (team members and handoffs)."""
    reason: str | None = None
    """Why (handoffs decided by a condition)."""


class MessageData(_DataModel):
    delta: bool
    """``True`` on a live text delta: an SSE-only frame, never stored (no ``id``)."""


GuardrailCheck = Literal["input", "output", "tool_input", "tool_output"]
"""What was checked: the agent's input or final answer, a tool call's arguments or result."""


class GuardrailData(_DataModel):
    position: GuardrailCheck


class GuardrailFailData(_DataModel):
    position: GuardrailCheck
    on_fail: Literal["retry", "raise", "fix", "human"]
    """What the failure does."""


class CallbackData(_DataModel):
    position: Literal[
        "before_agent", "after_agent", "before_model", "after_model", "before_tool", "after_tool"
    ]
    task: str
    """The worker task that ran the callback (``<agent>_<position>``)."""
    overridden: bool
    """Whether its answer changed the run (skipped or replaced a step, see sdk.md)."""
    errors: list[str] | None = None
    """Errors of handlers that raised (logged in the worker and skipped), or of the task."""


class DoneData(_DataModel):
    finish_reason: str


class ErrorData(_DataModel):
    status: Literal["FAILED", "TERMINATED", "TIMED_OUT"]
    finish_reason: str


# --- the model's turn -----------------------------------------------------------------------


class Thinking(_EventModel):
    """A model call was issued (or the planning call): ``"<agent>: model call N"``."""

    type: Literal["thinking"] = "thinking"
    content: str


class LlmCall(_EventModel):
    """A model reply was recorded: tokens, latency, cost; ``content`` is its reasoning text."""

    type: Literal["llm_call"] = "llm_call"
    data: LlmCallData
    content: str | None = None


class ContextCondensed(_EventModel):
    """The conversation no longer fit the model's context window: older messages were
    condensed into a summary (``content`` is the trigger, ``proactive``). Recorded once;
    the summary call's tokens and cost are in the ``llm_call`` event before it."""

    type: Literal["context_condensed"] = "context_condensed"
    content: str
    data: ContextCondensedData


class MemoryRecalled(_EventModel):
    """Entries of the agent's server-kept semantic memory were searched for the run's
    prompt, once, before its first model call; ``content`` is the text added to its
    instructions (empty when nothing was relevant). The query embedding's tokens and cost
    are in an ``llm_call`` event (``purpose: embedding``) before it."""

    type: Literal["memory_recalled"] = "memory_recalled"
    content: str
    data: MemoryRecalledData


class Message(_EventModel):
    """The model returned text together with tool calls (a final answer is in ``done``).

    Live deltas use this type too, as SSE-only frames with ``data.delta`` and no ``id``.
    """

    type: Literal["message"] = "message"
    content: str
    data: MessageData | None = None


class Plan(_EventModel):
    """The planner's plan, which then joins the conversation."""

    type: Literal["plan"] = "plan"
    content: str


class OutputInvalid(_EventModel):
    """A structured answer failed its schema and was sent back (``content``: the problems)."""

    type: Literal["output_invalid"] = "output_invalid"
    content: str
    data: AttemptData


class BudgetExceeded(_EventModel):
    """The tree's cost/token budget was used up before a model call; ``done`` follows."""

    type: Literal["budget_exceeded"] = "budget_exceeded"
    content: str


# --- tool calls ---------------------------------------------------------------------------


class ToolCall(_EventModel):
    """The model asked for a tool."""

    type: Literal["tool_call"] = "tool_call"
    tool_name: str
    args: dict[str, Any]
    call_id: str


class ToolResult(_EventModel):
    """A call was resolved: its value, ``{"error": …}``, or a rejection."""

    type: Literal["tool_result"] = "tool_result"
    tool_name: str
    result: Any
    call_id: str


class ToolRetry(_EventModel):
    """A call runs again: after a reported failure, or at once after its worker was lost."""

    type: Literal["tool_retry"] = "tool_retry"
    tool_name: str
    call_id: str
    content: str
    data: ToolRetryData


class Waiting(_EventModel):
    """A call waits for an approval or an outcome-unknown decision, or a manual team
    waits for a selection (then without ``tool_name``/``call_id``)."""

    type: Literal["waiting"] = "waiting"
    tool_name: str | None = None
    call_id: str | None = None
    content: str
    pending_tool: PendingToolDoc


class Approval(_EventModel):
    """An approval decision was accepted."""

    type: Literal["approval"] = "approval"
    tool_name: str
    call_id: str
    data: ApprovalData


class WorkerMissing(_EventModel):
    """No worker polled for a tool within the no-worker timeout."""

    type: Literal["worker_missing"] = "worker_missing"
    tool_name: str
    content: str


class WorkerFound(_EventModel):
    """A worker claimed the stalled tool's task."""

    type: Literal["worker_found"] = "worker_found"
    tool_name: str


# --- multi-agent --------------------------------------------------------------------------


class Handoff(_EventModel):
    """A child execution started: a pipeline step, an agent tool, a handoff or a team turn."""

    type: Literal["handoff"] = "handoff"
    target: str
    data: HandoffData | None = None


class Selection(_EventModel):
    """A manual team's choice was accepted (``target`` ``None``: stop the team)."""

    type: Literal["selection"] = "selection"
    target: str | None = None
    data: SelectionData


class GateStopped(_EventModel):
    """A pipeline gate stopped the pipeline; ``done`` follows."""

    type: Literal["gate_stopped"] = "gate_stopped"
    content: str


class BranchesFailed(_EventModel):
    """A parallel team completed although some branches failed (names, comma-separated)."""

    type: Literal["branches_failed"] = "branches_failed"
    content: str


# --- control and conditions ---------------------------------------------------------------


class Terminated(_EventModel):
    """A termination condition or ``stop_when`` ended the run; ``done`` follows."""

    type: Literal["terminated"] = "terminated"
    content: str


class ErrorIgnored(_EventModel):
    """A decision function (router, stop_when, gate, handoff check) failed; its default was used."""

    type: Literal["error_ignored"] = "error_ignored"
    content: str


class Paused(_EventModel):
    """The execution was paused: no model call is made until it is resumed."""

    type: Literal["paused"] = "paused"
    content: str


class Resumed(_EventModel):
    """The execution was resumed."""

    type: Literal["resumed"] = "resumed"


class GuardrailPass(_EventModel):
    """A guardrail accepted the input, the final answer, or a tool call's arguments or
    result (then with ``tool_name`` and ``call_id``)."""

    type: Literal["guardrail_pass"] = "guardrail_pass"
    guardrail_name: str
    tool_name: str | None = None
    call_id: str | None = None
    data: GuardrailData


class GuardrailFail(_EventModel):
    """A guardrail rejected what it checked (as for ``guardrail_pass``); ``content`` is its message.
    What follows depends on ``data.onFail``: a retry, a fix, a wait for a person, or ``error``."""

    type: Literal["guardrail_fail"] = "guardrail_fail"
    guardrail_name: str
    content: str | None = None
    tool_name: str | None = None
    call_id: str | None = None
    data: GuardrailFailData


class ToolsRequiredData(_DataModel):
    missing: list[str]
    attempt: int


class ToolsRequired(_EventModel):
    """The model answered before calling every ``requiredTools`` tool (``content`` lists
    the missing ones): the answer was sent back, asking for them."""

    type: Literal["tools_required"] = "tools_required"
    content: str
    data: ToolsRequiredData


class HumanInputData(_DataModel):
    decided_by: str
    decided_at: float


class HumanInput(_EventModel):
    """A person answered a ``human`` tool's question (``result``: the answer as sent);
    the answer is the call's result."""

    type: Literal["human_input"] = "human_input"
    tool_name: str
    call_id: str
    result: dict[str, Any]
    data: HumanInputData


class MessageReceivedData(_DataModel):
    seq: int
    message: Any = None


class MessageReceived(_EventModel):
    """A message was queued for the execution (``send_message``; ``data.seq`` is its
    number). A ``wait_for_message_tool`` call takes it: its ``tool_result`` holds it."""

    type: Literal["message_received"] = "message_received"
    data: MessageReceivedData


class Signal(_EventModel):
    """The operator set the standing signal shown to the model (``""``: cleared it)."""

    type: Literal["signal"] = "signal"
    content: str


class Callback(_EventModel):
    """A lifecycle callback answered (``content`` is its position); for a tool callback
    also ``tool_name`` and ``call_id`` of the call. Recorded once: never asked again."""

    type: Literal["callback"] = "callback"
    content: str
    tool_name: str | None = None
    call_id: str | None = None
    data: CallbackData


# --- terminal -----------------------------------------------------------------------------


class Done(_EventModel):
    """The execution COMPLETED (terminal): ``output`` is its answer."""

    type: Literal["done"] = "done"
    output: Any
    data: DoneData


class Error(_EventModel):
    """The execution FAILED, was TERMINATED or TIMED_OUT (terminal)."""

    type: Literal["error"] = "error"
    content: str | None = None
    data: ErrorData


Event = Annotated[
    Thinking
    | LlmCall
    | ContextCondensed
    | MemoryRecalled
    | Message
    | Plan
    | OutputInvalid
    | BudgetExceeded
    | ToolCall
    | ToolResult
    | ToolRetry
    | Waiting
    | Approval
    | Selection
    | Handoff
    | Terminated
    | GateStopped
    | BranchesFailed
    | ErrorIgnored
    | Paused
    | Resumed
    | WorkerMissing
    | WorkerFound
    | GuardrailPass
    | GuardrailFail
    | ToolsRequired
    | HumanInput
    | MessageReceived
    | Signal
    | Callback
    | Done
    | Error,
    Field(discriminator="type"),
]
"""Any event, discriminated on ``type`` (validate with :data:`EVENT_ADAPTER`)."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

_MODELS: tuple[type[_EventModel], ...] = (
    Thinking,
    LlmCall,
    ContextCondensed,
    MemoryRecalled,
    Message,
    Plan,
    OutputInvalid,
    BudgetExceeded,
    ToolCall,
    ToolResult,
    ToolRetry,
    Waiting,
    Approval,
    Selection,
    Handoff,
    Terminated,
    GateStopped,
    BranchesFailed,
    ErrorIgnored,
    Paused,
    Resumed,
    WorkerMissing,
    WorkerFound,
    GuardrailPass,
    GuardrailFail,
    ToolsRequired,
    HumanInput,
    MessageReceived,
    Signal,
    Callback,
    Done,
    Error,
)

EVENT_TYPES: dict[str, type[_EventModel]] = {model.model_fields["type"].default: model for model in _MODELS}
"""Event type → its model, in catalog order."""

NOT_EMITTED_YET: frozenset[str] = frozenset()
"""Types the catalog names that no server code emits yet (none: guardrails emit the last two)."""


def event_type_names() -> tuple[str, ...]:
    """Every event type, in catalog order (what the SDK's ``EventType`` must list)."""
    return tuple(EVENT_TYPES)


def parse_payload(event_type: str, payload: dict[str, Any]) -> _EventModel:
    """The model of a stored event (its row's ``type`` and decoded payload).

    Raises ``KeyError`` for a type outside the catalog and ``pydantic.ValidationError``
    for a payload that does not fit its type.
    """
    return EVENT_TYPES[event_type].model_validate(payload)


def to_payload(event: _EventModel) -> dict[str, Any]:
    """The payload to store for ``event``: the same keys, order and values the engine
    writes today (fields never set are left out; ``data`` keys camelCased)."""
    return event.model_dump(by_alias=True, exclude_unset=True, exclude={"type"})


def to_stream_event(event: _EventModel, *, seq: int, execution_id: str, timestamp_ms: int) -> StreamEvent:
    """The wire form of ``event``, given its row's envelope."""
    return StreamEvent(
        id=seq, type=event.type, execution_id=execution_id, timestamp=timestamp_ms, **to_payload(event)
    )


_ENVELOPE = frozenset({"id", "type", "execution_id", "timestamp"})


def from_stream_event(event: StreamEvent) -> _EventModel:
    """The typed event behind a wire event (fields the sender left out stay unset)."""
    fields = event.model_dump(include=event.model_fields_set - _ENVELOPE)
    return parse_payload(event.type, fields)
