"""Request and response bodies of the REST API (``/api``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from agentspan.protocol._base import WireModel
from agentspan.protocol.spec import AgentConfig

ExecutionStatus = Literal["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"})
TERMINAL_EVENTS: frozenset[str] = frozenset({"done", "error"})
"""The last event of every ended execution; a stream closes after it. Defined here rather
than in ``events.py`` so that the SDK's transport can use it without building the catalog."""


# --- executions -------------------------------------------------------------------------


class StartRequest(WireModel):
    agent_config: AgentConfig
    prompt: str = ""
    session_id: str = ""
    media: list[str] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    timeout_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """End the execution (TIMED_OUT) after this long; ``0`` or absent: no deadline."""
    credentials: list[str] = Field(default_factory=list)
    run_id: str | None = None
    max_cost_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Stop making model calls once this execution and its children cost this much."""
    max_tokens_total: int | None = Field(default=None, gt=0)
    """Stop making model calls once this execution and its children used this many tokens."""


class StartResponse(WireModel):
    execution_id: str
    agent_name: str
    required_workers: list[str] = Field(default_factory=list)
    created: bool = True
    """False when ``idempotencyKey`` matched an existing execution."""
    result: ExecutionDetail | None = None
    """With ``waitMs``: the final detail (events included) if the run ended in time."""


class PendingTool(WireModel):
    """What a waiting execution waits for (wire names follow the reference product)."""

    task_ref_name: str = Field(serialization_alias="taskRefName")
    tool_name: str = Field(serialization_alias="tool_name", validation_alias="tool_name")
    parameters: dict[str, Any] = Field(default_factory=dict)
    kind: str = "approval"


class TokenUsageWire(WireModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    """Estimated USD; ``None`` when a model used has no price in the table."""


class ForkLink(WireModel):
    """One end of a fork: the other execution, and the origin's step it was forked from."""

    execution_id: str
    step: int


class ForkRequest(WireModel):
    """``POST /api/agent/{executionId}/fork``: run the execution again from one of its
    model calls (``fromStep``: that ``llm_call`` event's id, as the timeline and
    ``agentspan show`` number the steps), optionally with other instructions or model."""

    from_step: int = Field(ge=1, le=2**53 - 1)
    instructions: str | None = None
    """Replace the agent's instructions for the new run (bounded like a start's)."""
    model: str | None = Field(default=None, min_length=1, max_length=200)
    """Another ``provider/model`` for the new run."""


class ForkResponse(WireModel):
    execution_id: str
    agent_name: str
    forked_from: ForkLink
    inherited_usage: TokenUsageWire
    """What the origin spent before the fork point: shown, never counted again."""


class StatusResponse(WireModel):
    execution_id: str
    agent_name: str = ""
    status: ExecutionStatus
    is_complete: bool
    is_running: bool
    is_waiting: bool = False
    output: Any = None
    reason_for_incompletion: str | None = None
    finish_reason: str | None = None
    pending_tool: dict[str, Any] | None = None
    waiting_reason: str | None = None
    current_turn: int = 0
    token_usage: TokenUsageWire | None = None
    parent_execution_id: str | None = None
    forked_from: ForkLink | None = None
    """Set on a fork: its origin and the step it was forked from."""


class ToolCallRecord(WireModel):
    call_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    status: str = "pending"
    attempts: int = 0
    error: str | None = None
    approval: dict[str, Any] | None = None


class ExecutionDetail(WireModel):
    execution_id: str
    agent_name: str
    status: ExecutionStatus
    parent_execution_id: str | None = None
    root_execution_id: str | None = None
    spec_hash: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    finish_reason: str | None = None
    error: str | None = None
    token_usage: TokenUsageWire = Field(default_factory=TokenUsageWire)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    sub_results: dict[str, Any] | None = None
    children: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    """The agent's ``metadata``, as its spec carries it."""
    created_at: float
    updated_at: float
    events: list[StreamEvent] | None = None
    """The whole event log, only with ``includeEvents=true``."""
    forked_from: ForkLink | None = None
    """Set on a fork: its origin and the step it was forked from."""
    inherited_usage: TokenUsageWire | None = None
    """On a fork: the origin's usage before the fork point (copied steps), not part of
    ``tokenUsage``."""
    forks: list[ForkLink] = Field(default_factory=list)
    """Executions forked from this one, with the step each was forked from."""


class ExecutionSummary(WireModel):
    execution_id: str
    agent_name: str
    status: ExecutionStatus
    parent_execution_id: str | None = None
    created_at: float
    updated_at: float
    waiting_reason: str | None = None
    token_usage: TokenUsageWire | None = None
    """This execution's own usage (not its sub-executions')."""
    duration_ms: int | None = None
    """From start to the end, once it ended."""


class ExecutionList(WireModel):
    total_hits: int
    results: list[ExecutionSummary]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next (older) page; absent on the last page."""


class WaitingExecution(WireModel):
    """One entry of the approvals inbox: an execution waiting for a person."""

    execution_id: str
    agent_name: str
    parent_execution_id: str | None = None
    created_at: float
    updated_at: float
    waiting_reason: str | None = None
    pending_tool: dict[str, Any]
    """What it waits for, with the ``response_schema`` an answer must fit."""


class WaitingList(WireModel):
    results: list[WaitingExecution]
    next_cursor: str | None = None
    """Pass as ``cursor`` to go on; absent once every running execution was looked at."""


class RespondRequest(WireModel):
    """A human's answer to a waiting execution: an approval or, for a ``manual`` team, a
    selection (``selected``/``agent`` present, even as null, makes it a selection).

    ``approved`` takes a boolean or a yes/no word (``"yes"``, ``"reject"``, …); the server
    reads the word. Keys not listed here are kept with the decision (``extra``).
    """

    # Only the camelCase names are fields: any other key (snake_case spellings included)
    # is kept in ``extra`` as it always was.
    model_config = ConfigDict(extra="allow", populate_by_name=False)

    approved: StrictBool | StrictStr | None = None
    reason: str | None = None
    task_ref_name: str | None = None
    """Which waiting call this decides (needed only when several wait)."""
    call_id: str | None = None
    """Another name for ``taskRefName``."""
    decided_by: str | None = None
    """Who decided; defaults to the ``X-Agentspan-Actor`` header or the client address."""
    selected: str | int | None = None
    """The next sub-agent of a manual team: its name or index; null ends the run."""
    agent: str | int | None = None
    """Another name for ``selected``."""

    # One error naming the field for each union, not one per member of the union.
    @field_validator("approved", mode="wrap")
    @classmethod
    def _approved(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("give true or false (or a yes/no word)") from None

    @field_validator("selected", "agent", mode="wrap")
    @classmethod
    def _selected(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("give a sub-agent's name or index, or null") from None

    @property
    def is_selection(self) -> bool:
        return bool({"selected", "agent"} & self.model_fields_set)

    @property
    def choice(self) -> str | int | None:
        return self.selected if "selected" in self.model_fields_set else self.agent

    def extras(self) -> dict[str, Any]:
        """The keys this model does not name, as sent."""
        return dict(self.model_extra or {})


class RespondResult(WireModel):
    execution_id: str
    accepted: bool = True
    decided_by: str | None = None


class MessageQueued(WireModel):
    """``POST /agent/{id}/messages``: the message is queued as number ``seq`` of the
    execution (1, 2, 3 ...); ``wait_for_message_tool`` calls take them in that order.
    ``duplicate``: the send carried an idempotency key an earlier message of this execution
    was sent with, so nothing was queued and ``seq`` is that message's."""

    execution_id: str
    seq: int
    duplicate: bool = False


MAX_MESSAGE_KEY_CHARS = 200
"""The longest idempotency key a message may carry."""


class SignalRequest(WireModel):
    """``POST /agent/{id}/signal``: a standing note shown to the model with every later
    call (``""`` clears it)."""

    message: str


# --- events -----------------------------------------------------------------------------


class StreamEvent(WireModel):
    """One entry of an execution's event log, as sent over SSE."""

    id: int
    type: str
    execution_id: str
    timestamp: int
    content: str | None = None
    tool_name: str | None = None
    args: dict[str, Any] | None = None
    result: Any = None
    target: str | None = None
    output: Any = None
    guardrail_name: str | None = None
    pending_tool: dict[str, Any] | None = None
    call_id: str | None = None
    data: dict[str, Any] | None = None


# --- worker tasks -----------------------------------------------------------------------


SCOPE_SEPARATOR = "@"
"""Joins a stateful tool's name and the execution its tasks are scoped to, in the queue's
task names (``lookup@<root execution id>``); tool names never contain it."""


def scoped_name(name: str, scope: str) -> str:
    """The queue name of ``name``'s tasks for one execution tree (``stateful`` tools)."""
    return f"{name}{SCOPE_SEPARATOR}{scope}"


def split_scope(task_name: str) -> tuple[str, str | None]:
    """``(tool name, scope)`` of a queue name; the scope is ``None`` for a shared queue."""
    name, sep, scope = task_name.partition(SCOPE_SEPARATOR)
    return (name, scope) if sep else (name, None)


class PollRequest(WireModel):
    names: list[str]
    domain: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    """Poll the tasks of ``stateful`` tools scoped to this execution (its root's id: what
    the SDK that started it polls with) instead of the shared queues of ``names``."""
    worker_id: str = "worker"
    # Strict: JSON ``true`` is not the count 1 (the API documents integers, and a worker
    # that sends a boolean has a bug it should hear about).
    count: int = Field(default=1, ge=1, le=100, strict=True)
    wait_ms: int = Field(default=20_000, ge=0, le=60_000, strict=True)


class TaskContextWire(WireModel):
    execution_id: str
    agent_name: str
    session_id: str = ""
    state: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    traceparent: str | None = None
    """W3C trace context of the tool call's span, when the server traces (a worker's own
    span continues it); ids only, never secrets."""
    credentials: list[str] | None = None
    """Credential names the call's agent (``Agent(credentials=...)``) or run
    (``run(credentials=...)``) makes available to its tools, besides the tool's own;
    names only: the worker fetches values with its lease."""


class TaskAssignment(WireModel):
    task_id: str
    name: str
    execution_id: str
    input: dict[str, Any]
    lease_id: str
    attempt: int
    lease_ttl_ms: int
    idempotency_key: str
    timeout_seconds: float | None = None
    context: TaskContextWire


class PollResponse(WireModel):
    tasks: list[TaskAssignment]


class HeartbeatRequest(WireModel):
    lease_id: str


class HeartbeatResponse(WireModel):
    lease_ttl_ms: int


class CompleteRequest(WireModel):
    lease_id: str
    output: Any = None
    state_updates: dict[str, Any] | None = None


class FailRequest(WireModel):
    lease_id: str
    error: str
    retryable: bool = True


# --- API keys ---------------------------------------------------------------------------


class CreateKeyRequest(WireModel):
    name: str = Field(min_length=1, max_length=64)
    """Recorded as who acted (an approval's ``decidedBy``); unique among active keys."""
    scopes: list[str] = Field(default_factory=list, max_length=8)
    """``admin``, ``operator``, ``worker``; empty: ``operator`` and ``worker``."""


class ApiKeyInfo(WireModel):
    """A key as listed: never the key itself, which is shown only when it is created."""

    id: str
    name: str
    scopes: list[str]
    created_at: float
    created_by: str
    revoked_at: float | None = None


class CreatedApiKey(ApiKeyInfo):
    key: str
    """The key to send as ``Authorization: Bearer <key>``. Shown once; the server keeps
    only its hash."""


# --- credentials ------------------------------------------------------------------------

MAX_CREDENTIAL_CHARS = 65536
"""The longest credential value (a PEM bundle fits; a file of data does not belong here)."""


class CredentialValue(WireModel):
    """``PUT /api/credentials/{name}``: the new value (set or replaced)."""

    value: str = Field(min_length=1, max_length=MAX_CREDENTIAL_CHARS)


class SetCredentialRequest(CredentialValue):
    """``POST /api/credentials``: a name and its value (set or replaced)."""

    name: str = Field(min_length=1, max_length=128)


class CredentialInfo(WireModel):
    """A credential as listed: its name and history, never its value (nor any part of it)."""

    name: str
    created_at: float
    updated_at: float
    created_by: str
    updated_by: str


class TaskCredentialsRequest(WireModel):
    """``POST /api/tasks/{taskId}/credentials``: a worker asks, with its current lease, for
    credentials the task's tool declares (``@tool(credentials=[...])``)."""

    lease_id: str
    names: list[str] = Field(min_length=1, max_length=64)


# --- deployments (named, versioned agent definitions) ----------------------------------


class DeployRequest(WireModel):
    """``POST /api/deployments``: store ``agentConfig`` as the next version of its name."""

    agent_config: AgentConfig


class CompileResponse(WireModel):
    """What a start of ``agentConfig`` would store and run (``POST /api/agent/compile``):
    the definition after the server's start-time work (prompt templates rendered,
    discovering tools expanded), the worker task names it needs, and its hash."""

    agent_config: dict[str, Any]
    required_workers: list[str] = Field(default_factory=list)
    spec_hash: str


class DeploymentVersion(WireModel):
    """One version of a deployment; ``running``: unfinished executions of its definition."""

    version: int
    spec_hash: str
    created_at: float
    created_by: str
    running: int = 0


class DeploymentInfoWire(WireModel):
    """A deployment as stored: ``created`` is False when the latest version already held
    this definition (deploying it again changes nothing)."""

    registered_name: str
    agent_name: str
    version: int
    spec_hash: str
    created_at: float
    created: bool = True
    required_workers: list[str] = Field(default_factory=list)


class DeploymentSummary(WireModel):
    name: str
    latest_version: int
    spec_hash: str
    updated_at: float


class DeploymentDetail(WireModel):
    """A name's versions, newest first, with how many executions run each."""

    name: str
    versions: list[DeploymentVersion]
    required_workers: list[str] = Field(default_factory=list)
    """The worker task names the latest version needs (what ``serve`` must offer)."""


class DeployedStartRequest(WireModel):
    """``POST /api/deployments/{name}/start``: start a deployed agent by name (the latest
    version, or ``version``); the other fields are those of ``StartRequest``."""

    version: int | None = Field(default=None, ge=1, le=2**53 - 1)
    """Bounded so the database's 64-bit integers can hold it (a larger one is a 400)."""
    prompt: str = ""
    session_id: str = ""
    media: list[str] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    timeout_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    credentials: list[str] = Field(default_factory=list)
    run_id: str | None = None
    max_cost_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_tokens_total: int | None = Field(default=None, gt=0)


# --- semantic memory (/api/memory) -----------------------------------------------------------

MAX_MEMORY_BATCH = 100
"""Entries one ``POST /api/memory/{namespace}/entries`` may carry."""


class MemoryEntryIn(WireModel):
    """One entry to store. ``id``: yours (an entry with that id is replaced, so sending a
    request again stores nothing twice); absent, the server picks one."""

    content: Annotated[str, Field(min_length=1, max_length=32 * 1024)]
    metadata: dict[str, Any] = Field(default_factory=dict)
    id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class AddMemoryRequest(WireModel):
    """Entries to store in ``index`` of the namespace, embedded by ``embeddingModel``
    (``provider/model``; default the server's ``AGENTSPAN_EMBEDDING_MODEL``; none: stored
    without vectors and searched lexically)."""

    entries: Annotated[list[MemoryEntryIn], Field(min_length=1, max_length=MAX_MEMORY_BATCH)]
    index: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")] = "default"
    embedding_model: Annotated[str, Field(max_length=200)] | None = None
    dimensions: Annotated[int, Field(ge=1, le=16_384)] | None = None


class SearchMemoryRequest(WireModel):
    """The ``top_k`` entries of ``index`` most relevant to ``query``."""

    query: Annotated[str, Field(min_length=1, max_length=8 * 1024)]
    index: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")] = "default"
    top_k: Annotated[int, Field(ge=1, le=50)] = 5
    embedding_model: Annotated[str, Field(max_length=200)] | None = None
    dimensions: Annotated[int, Field(ge=1, le=16_384)] | None = None


class MemoryEntryOut(WireModel):
    """A stored entry (its vector is never sent; ``embeddingModel``/``dimensions`` say
    whether it has one)."""

    id: str
    content: str
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    doc_id: str | None = None
    embedding_model: str | None = None
    dimensions: int | None = None
    score: float | None = None
    """Search results only: the cosine similarity or BM25 score."""
    ranked_by: Literal["embedding", "lexical"] | None = None


class MemoryEntries(WireModel):
    entries: list[MemoryEntryOut]
    next_cursor: str | None = None
    """List pages only: pass as ``cursor`` for the next page (absent: the last page)."""
    embedding_model: str | None = None
    """Adds and searches: the model that embedded (absent: none, lexical ranking)."""
    embedding_tokens: int | None = None


class ClearedMemory(WireModel):
    deleted: int
