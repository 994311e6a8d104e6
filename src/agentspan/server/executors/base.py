"""What an executor is, what it gets to work with, and which kinds exist.

An executor runs one kind of queued task on the server (a model call, a timer, later an
HTTP, MCP or sandbox tool call) under a lease, and answers with the engine input to
record. The pool (``pool.py``) does the rest for every kind alike: claiming, keeping the
lease, fencing, recording in one transaction and retrying after store errors.

Tasks of the ``worker`` kind are not run here: external workers long-poll for them
(``TaskService``). The registry knows that kind too, so the driver turns every
``RunTool`` into a task the same way, whoever runs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import ExecState, Input
from agentspan.server.providers import ProviderRegistry
from agentspan.server.providers.base import DeltaCallback, Provider
from agentspan.server.providers.redaction import Masked
from agentspan.server.settings import Settings
from agentspan.server.store.base import ExecutionRow, Store, TaskRow

WORKER_KIND = "worker"
"""Tool calls run by external workers (the default ``RunTool.executor``)."""

SERVER_WAKE_KEY = "internal"
"""The hub key the pool listens on for server-side tasks of any kind."""


@dataclass(slots=True)
class Job:
    """A task leased to this server, with the execution as the step that queued it
    committed it when it was handed over directly (``row``/``state`` are then set, so a
    model call reads neither again)."""

    task: TaskRow
    row: ExecutionRow | None = None
    state: ExecState | None = None


class MissingSecret(LookupError):
    """A secret a tool needs is not set; the message names it (never a value)."""


class SecretResolver(Protocol):
    """Where a server-side executor gets the secrets a call needs (``${NAME}`` in an HTTP,
    OpenAPI or MCP tool's headers), at call time and in memory only: a resolved value
    must never enter state, events, task payloads, logs or errors."""

    async def resolve(self, names: Collection[str], execution_id: str) -> dict[str, str]:
        """The value of each name; raises ``MissingSecret`` naming the first one unset."""
        ...


class ProviderKeys(Protocol):
    """Where the model-call executor finds provider API keys the server's environment
    lacks (``OPENAI_API_KEY`` set with ``agentspan credentials set``), at call time."""

    async def lookup(self, names: Collection[str]) -> dict[str, str]:
        """The values of those of ``names`` that are set (the rest are left out)."""
        ...


class NoSecrets:
    """The resolver while the server has no credential store: every name is missing."""

    async def resolve(self, names: Collection[str], execution_id: str) -> dict[str, str]:
        for name in names:
            raise MissingSecret(
                f"credential {name!r} is not set on the server (set it with: agentspan credentials set {name})"
            )
        return {}

    async def lookup(self, names: Collection[str]) -> dict[str, str]:
        return {}


@dataclass(slots=True)
class ExecutorContext:
    """What an executor may use: read access to the store, the model providers, the
    live-delta sink of the hub, the settings and the secrets resolver."""

    store: Store
    settings: Settings
    providers: ProviderRegistry
    spec_of: Callable[[ExecutionRow], Awaitable[AgentConfig]]
    """The agent spec an execution runs (cached by content hash)."""
    delta_sink: Callable[[str], DeltaCallback | None]
    """Where streamed text of an execution goes (``None``: nobody is listening)."""
    secrets: SecretResolver = NoSecrets()
    """Secrets for server-side tool calls (the credential store)."""
    provider_keys: ProviderKeys = NoSecrets()
    """Provider API keys the environment lacks (the credential store)."""


async def resolve_model(
    ctx: ExecutorContext, model: str, caller_base_url: str | None = None
) -> tuple[Provider, str]:
    """The adapter for ``model`` (masking the server's credentials in what it answers),
    with the provider's key taken from the credential store when the environment lacks it
    (looked up per call, never kept; a caller's own ``baseUrl`` never gets a stored key,
    as it never gets the environment's)."""
    wanted = () if caller_base_url else ctx.providers.key_names(model)
    stored = await ctx.provider_keys.lookup(wanted) if wanted else {}
    adapter, model_name = ctx.providers.resolve(model, caller_base_url=caller_base_url, stored=stored)
    # Whatever the endpoint answers is stored, streamed and given to workers: the server's
    # credentials (its environment's, and a stored key used here) are masked in all of it,
    # since an endpoint may echo its key.
    return Masked(adapter, (*ctx.providers.secrets(), *stored.values())), model_name


class Executor(Protocol):
    """One kind of server-side work.

    ``run`` returns the input to record (``None``: nothing to record, e.g. the execution
    is gone). It raises only when the store failed (nothing was decided): the task is
    then tried again soon. Everything else (a provider error, a tool's own failure, a
    timeout) is an answer, e.g. ``LlmFailed`` or ``ToolFailed``.
    """

    kind: str
    lease_seconds: float
    concurrency: int
    """How many tasks of this kind one server runs at a time."""
    reruns_lost_leases: bool
    """``True``: a task whose lease expired is simply run again (model calls, timers: no
    effect outside the database). ``False``: the engine hears about the loss first, as
    for worker tasks, and decides (re-run, or wait for a human for a non-retryable tool)."""

    async def run(self, job: Job, ctx: ExecutorContext) -> Input | None: ...

    def recorded(self, job: Job, result: Input, state: ExecState | None) -> None:
        """After the commit that recorded ``result`` (``state``: the execution after it)."""
        ...


class ServerRunner(Protocol):
    """The executor pool, as the driver sees it: a server-side task queued while the
    pool has room for its kind is written already leased to this server and handed over
    after commit, so it starts without a claiming transaction or a wake-up. If the
    server dies first, the lease expires and any replica claims the task as usual."""

    instance_id: str

    def has_room(self, kind: str) -> bool: ...

    def lease_seconds(self, kind: str) -> float: ...

    def run_leased(self, job: Job) -> None: ...


class ExecutorRegistry:
    """The task kinds this server knows, keyed by kind: server-side executors, and the
    kinds served by external pollers (``worker``)."""

    def __init__(self, executors: Iterable[Executor] = ()) -> None:
        self._server: dict[str, Executor] = {}
        self._external = {WORKER_KIND}
        for executor in executors:
            self.register(executor)

    def register(self, executor: Executor) -> None:
        if executor.kind in self._server or executor.kind in self._external:
            raise ValueError(f"executor kind {executor.kind!r} is registered already")
        self._server[executor.kind] = executor

    def serves(self, executor: str) -> bool:
        """Whether a ``RunTool`` with this ``executor`` can run on this server."""
        return executor in self._server or executor in self._external

    def task_kind(self, executor: str) -> str:
        """The task kind that runs a ``RunTool`` with this ``executor``."""
        if self.serves(executor):
            return executor
        raise ValueError(f"no executor {executor!r} is registered on this server")

    def wake_key(self, kind: str, name: str) -> str:
        """The hub key that wakes whoever claims a new task of this kind and name."""
        return SERVER_WAKE_KEY if kind in self._server else f"task:{name}"

    def server_side(self) -> list[Executor]:
        return list(self._server.values())

    def get(self, kind: str) -> Executor | None:
        return self._server.get(kind)
