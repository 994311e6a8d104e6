"""Typed state, inputs and commands of the engine.

Inputs and commands are tagged unions (``kind`` discriminator) so that the driver can
persist them and dispatch on them exhaustively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentspan.protocol.messages import ChatMessage
from agentspan.protocol.spec import AgentConfig

STATE_SCHEMA_VERSION = 2
"""Version of the ``ExecState`` document. 2: outstanding decision functions are typed
``PendingFn`` records keyed by call id (version 1 kept one ``pending_fn`` call-id string);
older documents are upgraded by ``upgraded`` (``decide`` does it before it applies an input)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- state ------------------------------------------------------------------------------

GuardPosition = Literal["input", "output"]


class GuardState(_Model):
    """A guardrail check in progress, going through the guardrails of its position in
    order (``index`` is the next one to run): the agent's input or final answer, or
    (``call_id`` set) a tool call's arguments or result."""

    position: GuardPosition
    content: str
    """The text being checked (after any ``fix`` of an earlier guardrail)."""
    call_id: str | None = None
    """A tool guardrail: the call whose arguments (input) or result (output) are checked."""
    result: Any = None
    """A tool guardrail on output: the result as the tool returned it (shown if it passes)."""
    fixed: bool = False
    """A ``fix`` replaced the content (a tool's result is then the fixed text)."""
    index: int = 0
    waiting_fn: str | None = None
    """The decision-function call id of the guardrail task whose verdict is awaited."""
    human: bool = False
    """The guardrail at ``index`` failed with ``on_fail="human"``: a person decides."""
    rail: str = ""
    """The name of the guardrail a person is asked about."""
    message: str = ""
    """Why the guardrail a human is asked about failed."""
    start: dict[str, Any] | None = None
    """Input position: the ``Start`` input to carry on with once the checks pass."""


class CallbackWait(_Model):
    """An agent-level lifecycle callback (the user's function, run as a worker task) whose
    answer the execution waits for, and what to carry on with once it answered."""

    position: Literal["before_agent", "after_agent", "before_model", "after_model"]
    fn: str
    """The decision-function call id of the callback task."""
    data: dict[str, Any] = Field(default_factory=dict)
    """``before_agent``: ``{"start"}`` (the Start input); ``after_model``: ``{"reply"}``
    (the model's reply, already recorded); ``after_agent``: ``{"status", "output",
    "finish_reason"}`` (how the run is about to end)."""


CallStatus = Literal["awaiting_approval", "running", "child_running", "done"]


class CallState(_Model):
    """One tool call requested by the model in the current turn."""

    call_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    status: CallStatus = "running"
    attempt: int = 0
    """Attempts started so far (the first run is attempt 1)."""
    result: Any = None
    error: str | None = None
    rejected: bool = False
    child_id: str | None = None
    lost: int = 0
    """Runs lost with their worker (lease expired); re-run at once, up to a bound."""
    llm_id: str = ""
    """The id the model gave this call (tool messages must echo it)."""
    wait_kind: Literal["approval", "outcome_unknown", "human", "messages"] | None = None
    """Why the call waits for a person (``messages``: a running ``wait_for_message_tool``
    call waiting for ``send_message``, see ``message_waits.py``)."""
    approval: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None
    """The tool's own schema of a person's answer, while it waits (``None``: the default)."""
    guard: GuardState | None = None
    """The tool's guardrails checking this call's arguments or result, while they do."""
    hook: str | None = None
    """The call id of a ``before_tool``/``after_tool`` callback task this call waits for."""
    hooked: bool = False
    """Its ``before_tool`` callback answered (it is not asked again for this call)."""


class Usage(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    """Estimated from the price table; 0 for models it does not list."""
    priced: bool = True
    """False once any call was made with a model the price table does not know."""


FnPurpose = Literal[
    "router", "stop_when", "gate", "handoff", "guardrail", "callback", "retry_wait", "graph", "recall"
]


class PendingFn(_Model):
    """One outstanding local decision function (the user's Python, run as a worker task);
    its answer comes back as a tool result for ``call_id`` and is routed by ``purpose``."""

    call_id: str
    purpose: FnPurpose
    task: str
    """The worker task name (the function's name as the SDK registered it)."""
    args: dict[str, Any] = Field(default_factory=dict)
    attempt: int = 1
    """Runs started so far (the first run is attempt 1); see ``functions.retry_fn``."""
    executor: str = "worker"
    """Who runs it: an SDK worker, or a server-side executor (an LLM guardrail's judge)."""
    resume: dict[str, Any] | None = None
    """What to carry on with once it answered, kept here and not sent with the task (the
    ``Start`` a semantic-memory recall holds back)."""


class Condensation(_Model):
    """Older messages replaced by a summary in what model calls are sent (the stored
    messages are never rewritten). ``keep``: indexes before ``upto`` still sent as they
    are (the first user message)."""

    upto: int
    """Messages ``[0, upto)`` are covered (except ``keep``); ``[upto, …)`` are sent."""
    summary: str
    keep: list[int] = Field(default_factory=list)
    count: int = 1
    """How many times this conversation was condensed."""


class GraphRun(_Model):
    """A LangGraph graph run as a durable graph (``strategies/graph.py``): the checkpoint
    after its last completed superstep, as the worker encoded it (JSON, opaque to the
    engine), and what the next superstep is given."""

    task: str
    """The worker task that runs one superstep (``<graph>_superstep``)."""
    checkpoint: dict[str, Any] | None = None
    """``None`` until the first superstep completed."""
    supersteps: int = 0
    """Supersteps completed (and recorded) so far."""
    resume: Any = None
    """A person's answer to the graph's ``interrupt()``, for the next superstep."""
    interrupts: list[dict[str, Any]] = Field(default_factory=list)
    """The interrupts the graph waits on (``{"id", "value"}``), while it waits."""
    due: bool = False
    """The next superstep is due but held back (paused)."""


class ExecState(_Model):
    """The compact, versioned state document of one execution.

    Messages are not stored here (they live in their own table, once each); the state only
    counts them, so the cost of a step does not grow with the conversation.
    """

    schema_version: int = STATE_SCHEMA_VERSION
    status: Literal["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"] = "RUNNING"
    paused: bool = False
    turn: int = 0
    """Model calls completed so far."""
    awaiting_llm: bool = False
    llm_due: bool = False
    """The next model call is due but held back (the execution is paused)."""
    calls: dict[str, CallState] = Field(default_factory=dict)
    call_order: list[str] = Field(default_factory=list)
    call_counter: int = 0
    turn_had_rejection: bool = False
    message_count: int = 0
    remembered_replies: int = 0
    """Assistant messages the conversation started with (memory, a session's history):
    a scripted model counts its turns after them."""
    condensed: Condensation | None = None
    """The latest condensing of this conversation (``executors/condensing.py``): model
    calls see its summary in place of the messages it covers."""
    usage: Usage = Field(default_factory=Usage)
    last_text: str | None = None
    output: Any = None
    finish_reason: str | None = None
    error: str | None = None
    budgeted: bool | None = None
    """Whether the tree has a budget row (set when the execution is created; ``None`` in
    states written before this field: look it up). Spares the budget read and write of
    every model call for the trees without one."""
    tool_state: dict[str, Any] = Field(default_factory=dict)
    stop_requested: bool = False
    signal: str = ""
    """The operator's standing note (``/signal``), shown to the model with every call."""
    missing_workers: list[str] = Field(default_factory=list)
    deadline: float | None = None
    # sequential pipelines
    step: int = 0
    step_child: str | None = None
    sub_results: dict[str, Any] = Field(default_factory=dict)
    output_attempts: int = 0
    """Structured-output answers rejected so far (each is sent back with the errors)."""
    # multi-agent strategies
    prompt: str = ""
    """The request this execution started with."""
    transcript: list[dict[str, str]] = Field(default_factory=list)
    """Group conversation of a team: ``[{"agent", "text"}]``."""
    team_turn: int = 0
    active: str | None = None
    """The sub-agent currently running (team strategies)."""
    children: dict[str, str] = Field(default_factory=dict)
    """Running children of a team: child execution id -> sub-agent name."""
    seed: int = 0
    """Drawn once at start; every random pick derives from it, so replays pick the same."""
    pending: dict[str, PendingFn] = Field(default_factory=dict)
    """Outstanding local decision functions (router, stop_when, gate, ...) by call id."""
    fn_counter: int = 0
    selecting: bool = False
    """Manual strategy: waiting for a human to pick the next agent."""
    planning: bool = False
    """The planning call (``planner=True``) is outstanding."""
    pending_choice: dict[str, Any] | None = None
    """What the human is asked (``pendingTool`` in status) while ``selecting``."""
    handed_to: str | None = None
    """Handoff: the call whose child now owns the run; its answer ends this execution."""
    transfer_to: str | None = None
    """Swarm member: the peer to transfer to once the current turn's calls are done."""
    plan: list[dict[str, str]] | None = None
    """``plan_execute``: the planner's steps (``{"agent", "task"}``), once it answered."""
    pending_handoff_checks: list[dict[str, Any]] = Field(default_factory=list)
    # guardrails
    guard: GuardState | None = None
    """The agent-level guardrail check in progress (input or final answer), if any."""
    guard_failures: dict[str, int] = Field(default_factory=dict)
    """Failed output checks so far, by guardrail name (``retry`` sends back up to maxRetries)."""
    # required tools
    tools_used: list[str] = Field(default_factory=list)
    """Required tools (``requiredTools``) called successfully so far."""
    required_asks: int = 0
    """Answers sent back because a required tool was not called yet."""
    # lifecycle callbacks
    recalled: str | None = None
    """What the agent's server-kept semantic memory recalled for the run's prompt
    (``engine/recall.py``): joins its instructions on every model call."""
    hook: CallbackWait | None = None
    """The agent-level callback (before/after agent or model) the execution waits for."""
    model_hooked: bool = False
    """The ``before_model`` callback of the model call about to be made has answered."""
    ended_hooked: bool = False
    """The ``after_agent`` callback ran (the run now ends without asking it again)."""
    # LangGraph graphs
    graph: GraphRun | None = None
    """A durable LangGraph graph's checkpoint and progress (``strategies/graph.py``)."""
    # Read from version-1 documents only, never written (``exclude``): see ``upgraded``.
    v1_pending_fn: str | None = Field(default=None, validation_alias="pending_fn", exclude=True)
    v1_pending_fn_call: dict[str, Any] | None = Field(
        default=None, validation_alias="pending_fn_call", exclude=True
    )

    @property
    def terminal(self) -> bool:
        return self.status in ("COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT")

    def awaiting_approval(self) -> list[CallState]:
        return [c for c in (self.calls[i] for i in self.call_order) if c.status == "awaiting_approval"]


def upgraded(state: ExecState) -> ExecState:
    """``state`` brought to ``STATE_SCHEMA_VERSION`` (a new object; ``state`` is unchanged).

    Not a model validator: that would cost every read of every state (the hot path parses
    the state twice a step), while old documents are rare and only ``decide`` needs them
    current. An execution may wait for days across an upgrade, so they must still run."""
    if state.schema_version >= STATE_SCHEMA_VERSION:
        return state
    state = state.model_copy(deep=True)
    if state.schema_version < 2:
        _upgrade_from_v1(state)
    state.schema_version = STATE_SCHEMA_VERSION
    return state


def _upgrade_from_v1(state: ExecState) -> None:
    """Version 1 kept the outstanding decision function as ``pending_fn`` (a call id
    ``fn.<purpose>.<n>``) plus ``pending_fn_call`` (``{"name", "args", "attempt"}``)."""
    call_id, call = state.v1_pending_fn, state.v1_pending_fn_call
    if call_id is not None:
        purpose = call_id.split(".")[1]
        # No call record (older still): the function cannot be run again, so it is not
        # (``retry_fn`` skips a record without a task), as version 1 did not.
        call = call or {"name": "", "args": {}, "attempt": 1}
        state.pending[call_id] = PendingFn(
            call_id=call_id,
            purpose=purpose,  # type: ignore[arg-type]  # written by version 1 from this set
            task=str(call.get("name", "")),
            args=dict(call.get("args") or {}),
            attempt=int(call.get("attempt", 1)),
        )
    state.v1_pending_fn = state.v1_pending_fn_call = None


# --- inputs -----------------------------------------------------------------------------


class Start(_Model):
    kind: Literal["start"] = "start"
    prompt: str
    now: float
    timeout_seconds: float | None = None
    media: list[str] = Field(default_factory=list)
    seed: int = 0
    history: list[ChatMessage] = Field(default_factory=list)
    """The conversation memory the driver loaded (server/memory.py): written before the
    prompt as the execution's first messages."""


class Fork(_Model):
    """The first input of a forked execution (``service/forks.py``): the origin's
    conversation as it was when the model call at ``from_step`` was made, and where the
    run stood then; the fork makes that model call again."""

    kind: Literal["fork"] = "fork"
    prompt: str
    now: float
    seed: int = 0
    timeout_seconds: float | None = None
    messages: list[ChatMessage]
    turn: int
    call_counter: int
    """The origin's calls so far (``c1``, ``c2``, ...): the fork's next call numbers after them."""
    origin_id: str
    from_step: int


class ToolCallIn(_Model):
    id: str
    name: str
    arguments: str


class LlmResult(_Model):
    kind: Literal["llm_result"] = "llm_result"
    content: str | None = None
    tool_calls: list[ToolCallIn] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    finish_reason: str | None = None
    model: str = ""
    latency_ms: float = 0.0
    cost_usd: float | None = None
    """Estimated cost of this call; ``None`` when the model has no price."""
    thinking: str | None = None
    max_tool_calls: int | None = None
    """How many of ``tool_calls`` may run (the server's AGENTSPAN_MAX_PARALLEL_TOOL_CALLS
    when the reply came); the rest are answered with an error. ``None``: all of them."""


class ContextCondensed(_Model):
    """The conversation was too long for the model's context window: instead of the
    agent's model call, a summary call condensed the older messages (its answer and
    usage are here). The engine records it and asks for the model call again."""

    kind: Literal["context_condensed"] = "context_condensed"
    condensation: Condensation
    trigger: str = "proactive"
    messages_before: int
    messages_after: int
    exchanges_condensed: int
    summary_call: LlmResult


class LlmFailed(_Model):
    kind: Literal["llm_failed"] = "llm_failed"
    error: str


class ToolSucceeded(_Model):
    kind: Literal["tool_succeeded"] = "tool_succeeded"
    call_id: str
    output: Any = None
    state_updates: dict[str, Any] | None = None
    usage: LlmResult | None = None
    """A model call the server-side tool made (an embedding), added to the run's usage."""


class ToolFailed(_Model):
    kind: Literal["tool_failed"] = "tool_failed"
    call_id: str
    error: str
    retryable: bool = True
    lease_lost: bool = False
    """The attempt was lost (its lease expired) rather than reported as failed."""


class ApprovalDecided(_Model):
    kind: Literal["approval"] = "approval"
    approved: bool
    reason: str = ""
    decided_by: str = "unknown"
    decided_at: float
    call_id: str | None = None
    """Which waiting call; ``None`` = the first one waiting."""
    extra: dict[str, Any] = Field(default_factory=dict)


class HumanAnswered(_Model):
    """A person answered a ``human`` tool's question; the answer is the call's result."""

    kind: Literal["human_answer"] = "human_answer"
    answer: dict[str, Any]
    decided_by: str = "unknown"
    decided_at: float
    call_id: str | None = None
    """Which waiting question; ``None`` = the first one waiting."""


class ChildFinished(_Model):
    kind: Literal["child_finished"] = "child_finished"
    child_id: str
    agent_name: str
    status: str
    output: Any = None
    error: str | None = None
    transfer_to: str | None = None
    """A swarm member that ended by transferring control to this peer."""
    finish_reason: str | None = None
    state: dict[str, Any] | None = None
    """The child's tool state, when it shares the run's state (``sessionState``)."""


class Selection(_Model):
    """A human picked the next agent (manual strategy); ``None`` ends the run."""

    kind: Literal["selection"] = "selection"
    selected: str | None
    decided_by: str = "unknown"
    decided_at: float = 0.0


class Cancel(_Model):
    kind: Literal["cancel"] = "cancel"
    reason: str = ""


class Pause(_Model):
    kind: Literal["pause"] = "pause"


class Resume(_Model):
    kind: Literal["resume"] = "resume"


class Stop(_Model):
    kind: Literal["stop"] = "stop"


class MessageArrived(_Model):
    """A message was queued for this execution (``send_message``); the driver delivers
    it if a ``wait_for_message_tool`` call asks (``PullMessages``)."""

    kind: Literal["message_arrived"] = "message_arrived"
    seq: int
    message: Any = None


class SignalSet(_Model):
    """The operator set (or, with ``""``, cleared) the execution's standing signal."""

    kind: Literal["signal"] = "signal"
    message: str


class TimedOut(_Model):
    kind: Literal["timed_out"] = "timed_out"


class WorkerMissing(_Model):
    """Nobody polls for these tools: one input for all of an execution's stalled calls
    the watchdog found in one pass (one step, however many calls wait)."""

    kind: Literal["worker_missing"] = "worker_missing"
    tool_names: list[str]
    waited_seconds: float
    note: str = ""
    """Why nobody may serve them, when the watchdog knows (an older deployed version)."""


class BudgetExceeded(_Model):
    kind: Literal["budget_exceeded"] = "budget_exceeded"
    reason: str


class WorkerFound(_Model):
    """A worker claimed calls of these tools (one input per execution and claim)."""

    kind: Literal["worker_found"] = "worker_found"
    tool_names: list[str]


Input = Annotated[
    Start
    | Fork
    | LlmResult
    | LlmFailed
    | ContextCondensed
    | ToolSucceeded
    | ToolFailed
    | ApprovalDecided
    | HumanAnswered
    | ChildFinished
    | Cancel
    | Pause
    | Resume
    | Stop
    | TimedOut
    | WorkerMissing
    | WorkerFound
    | BudgetExceeded
    | MessageArrived
    | SignalSet
    | Selection,
    Field(discriminator="kind"),
]


# --- commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallLlm:
    purpose: Literal["turn", "plan"] = "turn"
    """``plan``: the planning call of ``planner=True`` (no tools offered)."""
    kind: Literal["call_llm"] = "call_llm"


@dataclass(frozen=True, slots=True)
class RunTool:
    call_id: str
    name: str
    args: dict[str, Any]
    delay_seconds: float = 0.0
    timeout_seconds: float | None = None
    attempt: int = 1
    """Which run of the call this is (1 = first); workers see it as ``ToolContext.attempt``."""
    executor: str = "worker"
    """Who runs the call: ``worker`` (an external worker polling the task queue) or a
    server-side executor kind registered in ``server/executors`` (e.g. ``http``)."""
    kind: Literal["run_tool"] = "run_tool"


@dataclass(frozen=True, slots=True)
class StartChild:
    """Start a child execution of ``spec`` (a sub-agent, as the parent's spec holds it or
    as the parent's strategy adapted it: a swarm member with its transfer tools, ...)."""

    spec: AgentConfig
    prompt: str
    link: str
    """What the child is for: a call id (``agent_tool``) or ``step:<n>`` (pipeline)."""
    kind: Literal["start_child"] = "start_child"


@dataclass(frozen=True, slots=True)
class CancelChild:
    child_id: str
    reason: str
    kind: Literal["cancel_child"] = "cancel_child"


@dataclass(frozen=True, slots=True)
class ControlChild:
    """Pass a pause, resume or graceful stop of a team, pipeline or agent on to a running
    child (the driver applies it to the child after this step is written, so a child that
    ends at once can tell its parent in the same transaction)."""

    child_id: str
    action: Literal["pause", "resume", "stop"]
    kind: Literal["control_child"] = "control_child"


@dataclass(frozen=True, slots=True)
class SetTimer:
    at: float
    kind: Literal["set_timer"] = "set_timer"


@dataclass(frozen=True, slots=True)
class PullMessages:
    """Hand up to ``batch_size`` queued messages to call ``call_id`` in this transaction
    (the driver answers it with a ``ToolSucceeded``); when none is queued, answer at once
    with none unless ``blocking`` (then a later ``MessageArrived`` asks again)."""

    call_id: str
    batch_size: int
    blocking: bool
    kind: Literal["pull_messages"] = "pull_messages"


@dataclass(frozen=True, slots=True)
class DropTasks:
    """Withdraw every outstanding task of this execution (it ended)."""

    kind: Literal["drop_tasks"] = "drop_tasks"


Command = CallLlm | RunTool | StartChild | CancelChild | ControlChild | SetTimer | PullMessages | DropTasks


@dataclass(slots=True)
class EventDraft:
    """An event to append to the execution's log (the driver assigns id and time)."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)


class Rejected(Exception):
    """The input does not apply to the current state (e.g. approving a run not waiting).

    The driver turns it into an API error; the state is left unchanged.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class Decision:
    state: ExecState
    events: list[EventDraft] = field(default_factory=list)
    messages: list[ChatMessage] = field(default_factory=list)
    """New conversation messages, in the union the store and every provider share."""
    commands: list[Command] = field(default_factory=list)
