"""Workers: long-poll the server for tool tasks, run them, heartbeat, report.

Tools run in the user's process with no pickling: sync functions in a thread pool, async
functions on the runtime's loop. While a tool runs its lease is extended every third of
the lease time, so slow tools live as long as they need and dead workers are noticed
within one lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import inspect
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from agentspan._core.credentials import (
    CredentialAuthError,
    CredentialNotFoundError,
    CredentialRateLimitError,
    CredentialServiceError,
    credential_files,
    credential_names,
    provided,
)
from agentspan._core.errors import AgentAPIError, AgentspanError, TerminalToolError, ToolSerializationError
from agentspan._core.isolated import IsolatedCallError, run_isolated
from agentspan._core.schema import coerce_arguments, context_parameter
from agentspan._core.tool import ToolContext, ToolDef, encode_tool_result
from agentspan.client._http import ApiClient
from agentspan.client._trace import tool_span

log = logging.getLogger("agentspan.worker")

SHUTTING_DOWN = "shutting_down"
"""The code of the ``503`` a server answers a request with when it is shutting down."""
SHUTDOWN_RETRY_SECONDS = 1.0
"""How long to wait after it (what the server's ``Retry-After`` says)."""


class WorkerPool:
    """Serves a growing set of tools for one runtime."""

    def __init__(self, client: ApiClient, *, max_concurrency: int = 16, poll_wait_ms: int = 20_000) -> None:
        self.client = client
        self.max_concurrency = max_concurrency
        self.poll_wait_ms = poll_wait_ms
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._tools: dict[str, ToolDef] = {}
        self._slots = asyncio.Semaphore(max_concurrency)
        self._threads = ThreadPoolExecutor(max_concurrency, thread_name_prefix="agentspan-tool")
        self._loops: list[asyncio.Task[None]] = []
        self._scopes: set[str] = set()
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def register(self, tools: Iterable[ToolDef]) -> list[str]:
        """Serve these tools (must run on the runtime loop). Returns the names added."""
        added: list[str] = []
        for tool in tools:
            if tool.func is None:
                continue
            existing = self._tools.get(tool.name)
            if existing is not None:
                if existing.func is not tool.func:
                    # Another function under the same name: the newest definition wins,
                    # as after a code reload.
                    self._tools[tool.name] = tool
                continue
            self._tools[tool.name] = tool
            added.append(tool.name)
        if added and not self._closed:
            loop_task = asyncio.create_task(self._poll_loop(added), name=f"agentspan-poll-{added[0]}")
            self._loops.append(loop_task)
        return added

    def serve_scope(self, domain: str, tools: Iterable[ToolDef]) -> None:
        """Also poll the tasks of these ``stateful`` tools scoped to execution ``domain``
        (the server hands them to no other worker), until that execution ends. Must run
        on the runtime loop."""
        names = [t.name for t in tools if t.func is not None]
        if not names or domain in self._scopes or self._closed:
            return
        self.register(tools)
        self._scopes.add(domain)
        loop_task = asyncio.create_task(self._poll_loop(names, domain), name=f"agentspan-poll-{domain}")
        self._loops.append(loop_task)
        loop_task.add_done_callback(self._scope_done)

    def _scope_done(self, loop_task: asyncio.Task[None]) -> None:
        # One loop per run: a long-lived runtime must not keep every finished one.
        if not self._closed:
            with contextlib.suppress(ValueError):
                self._loops.remove(loop_task)

    async def _poll_loop(self, names: list[str], domain: str | None = None) -> None:
        backoff = 0.1
        server_away = False  # it said it was shutting down, and has not answered since
        while not self._closed:
            try:
                await self._slots.acquire()
                self._slots.release()
                free = max(1, min(self._free_slots(), 32))
                tasks = await self.client.poll(names, self.worker_id, free, self.poll_wait_ms, domain)
                backoff = 0.1
                if server_away:
                    log.info("the server is back; polling for %s again", names)
                    server_away = False
            except asyncio.CancelledError:
                raise
            except AgentAPIError as exc:
                if domain is not None and (exc.status_code == 404 or exc.code == "invalid_state"):
                    log.debug("execution %s ended; no more tasks of %s for it", domain, names)
                    self._scopes.discard(domain)
                    return
                if exc.code == SHUTTING_DOWN or (server_away and exc.status_code == 0):
                    # A restart (or a replica leaving): expected, and nothing was claimed,
                    # so wait for it quietly instead of warning on every attempt.
                    if not server_away:
                        log.info("the server is shutting down; polling for %s again once it is back", names)
                    server_away = True
                    delay = SHUTDOWN_RETRY_SECONDS if exc.code == SHUTTING_DOWN else backoff
                    log.debug("poll for %s: %s; retrying in %.1fs", names, exc, delay)
                    await asyncio.sleep(delay)
                    backoff = min(backoff * 2, 5.0)
                    continue
                log.warning("poll for %s failed: %s; retrying in %.1fs", names, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            for task in tasks:
                await self._slots.acquire()
                job = asyncio.create_task(self._execute(task))
                self._running.add(job)
                job.add_done_callback(self._job_done)

    def _free_slots(self) -> int:
        return self.max_concurrency - len(self._running)

    def _job_done(self, job: asyncio.Task[None]) -> None:
        self._running.discard(job)
        self._slots.release()

    async def _execute(self, task: dict[str, Any]) -> None:
        tool = self._tools.get(task["name"])
        task_id, lease_id = task["taskId"], task["leaseId"]
        if tool is None or tool.func is None:
            await self._report(
                lambda: self.client.fail(task_id, lease_id, f"no local function for {task['name']}", True)
            )
            return
        heartbeat = asyncio.create_task(self._heartbeat(task_id, lease_id, task["leaseTtlMs"] / 1000))
        traced = (task.get("context") or {}).get("traceparent")
        attrs = {"gen_ai.tool.call.id": task_id, "agentspan.execution.id": task["executionId"]}
        try:
            with tool_span(tool.name, traced, attrs) as span:
                outcome = await self._outcome(tool, task)
                if span is not None and isinstance(outcome, _Failure):
                    span.set_attribute("error.type", "tool_error")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if isinstance(outcome, _Failure):
            await self._report(lambda: self.client.fail(task_id, lease_id, outcome.error, outcome.retryable))
        else:
            output, state = outcome
            await self._report(lambda: self.client.complete(task_id, lease_id, output, state))

    async def _outcome(
        self, tool: ToolDef, task: dict[str, Any]
    ) -> tuple[Any, dict[str, Any] | None] | _Failure:
        """Run the tool; classify a failure as retryable (transient) or not."""
        try:
            return await self._invoke(tool, task)
        except TerminalToolError as exc:
            return _Failure(str(exc) or type(exc).__name__, retryable=False)
        except (ToolSerializationError, _BadArguments) as exc:
            return _Failure(str(exc), retryable=False)
        except _IsolatedFailure as exc:
            return _Failure(exc.message, retryable=exc.retryable)
        except (CredentialNotFoundError, CredentialAuthError) as exc:
            # As in the reference: a call without its credentials fails for good.
            return _Failure(f"{type(exc).__name__}: {exc}", retryable=False)
        except (CredentialRateLimitError, CredentialServiceError) as exc:
            # The server could not answer now (shutting down, unreachable): try the call
            # again later, like any transient failure, rather than fail it for good.
            return _Failure(f"{type(exc).__name__}: {exc}", retryable=True)
        except TimeoutError:
            return _Failure(f"tool '{tool.name}' timed out after {tool.timeout_seconds}s", retryable=True)
        except Exception as exc:  # noqa: BLE001 - the tool's own failure, retried by policy
            return _Failure(f"{type(exc).__name__}: {exc}", retryable=True)

    async def _invoke(self, tool: ToolDef, task: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        func = tool.func
        assert func is not None
        raw_ctx = task.get("context") or {}
        # The tool gets its own deep copy, so in-place changes to nested values (appending
        # to a list in the state) show up when it is compared with what was received.
        before: dict[str, Any] = raw_ctx.get("state") or {}
        ctx = ToolContext(
            session_id=raw_ctx.get("sessionId", ""),
            execution_id=task["executionId"],
            agent_name=raw_ctx.get("agentName", ""),
            metadata=dict(raw_ctx.get("metadata") or {}),
            state=copy.deepcopy(before) if before else {},
            idempotency_key=task["idempotencyKey"],
            task_id=task["taskId"],
            attempt=task["attempt"],
        )
        try:
            kwargs = coerce_arguments(func, task.get("input") or {})
        except ValueError as exc:
            raise _BadArguments(f"invalid arguments for tool '{tool.name}': {exc}") from exc
        ctx_name = context_parameter(func)
        if ctx_name is not None:
            kwargs[ctx_name] = ctx
        timeout = task.get("timeoutSeconds") or tool.timeout_seconds
        # The tool's own credentials, and those its agent or run makes available (names
        # the server put in the task's context).
        names = list(
            dict.fromkeys([*credential_names(tool.credentials), *(raw_ctx.get("credentials") or [])])
        )
        values = await self._credentials(task, names) if names else {}
        files = credential_files(tool.credentials)
        if tool.isolated:
            fields = dataclasses.asdict(ctx) if ctx_name is not None else None
            try:
                output, state = await run_isolated(
                    func, tool.name, task.get("input") or {}, fields, values, files, timeout
                )
            except IsolatedCallError as exc:
                raise _IsolatedFailure(str(exc), exc.retryable) from None
            return output, _state_changes(before, state) if state is not None else None
        with provided(values, files) as context:
            if inspect.iscoroutinefunction(func):
                result = await asyncio.wait_for(func(**kwargs), timeout)
            else:
                loop = asyncio.get_running_loop()
                # A thread does not inherit context variables: run in this call's context.
                result = await asyncio.wait_for(
                    loop.run_in_executor(self._threads, lambda: context.run(func, **kwargs)), timeout
                )
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, timeout)
        output = encode_tool_result(result)
        return output, _state_changes(before, ctx.state)

    async def _credentials(self, task: dict[str, Any], names: list[str]) -> dict[str, str]:
        """The declared credentials' values, fetched with this call's lease."""
        try:
            values = await self.client.task_credentials(task["taskId"], task["leaseId"], names)
        except AgentAPIError as exc:
            raise credential_error(exc, names) from None
        missing = [name for name in names if name not in values]
        if missing:
            raise CredentialNotFoundError(missing)
        return {name: values[name] for name in names}

    async def _heartbeat(self, task_id: str, lease_id: str, ttl: float) -> None:
        while True:
            await asyncio.sleep(max(ttl / 3, 0.05))
            try:
                await self.client.heartbeat(task_id, lease_id)
            except AgentAPIError as exc:
                if exc.status_code == 409:
                    log.warning("lost the lease on %s; its result will be dropped", task_id)
                    return
                log.debug("heartbeat for %s failed: %s", task_id, exc)

    async def _report(self, call: Callable[[], Awaitable[None]]) -> None:
        """Deliver a result; retry transport errors, drop it if the lease moved on."""
        for attempt in range(5):
            try:
                await call()
                return
            except AgentAPIError as exc:
                if exc.status_code == 409 and exc.code != "conflict":
                    log.warning("result dropped: %s", exc.message)
                    return
                if exc.status_code and exc.status_code < 500 and exc.code != "conflict":
                    log.error("result rejected: %s", exc)
                    return
                log.warning("reporting a result failed (%s); attempt %d", exc, attempt + 1)
            await asyncio.sleep(0.2 * 2**attempt)
        # Undeliverable: the lease will expire and the task will run again elsewhere.

    async def stop(self) -> None:
        self._closed = True
        for loop_task in self._loops:
            loop_task.cancel()
        for loop_task in self._loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop_task
        if self._running:
            await asyncio.wait(list(self._running), timeout=5.0)
        self._threads.shutdown(wait=False, cancel_futures=True)


def credential_error(exc: AgentAPIError, names: list[str]) -> AgentspanError:
    """The credential error a refused or failed fetch stands for (reference §16)."""
    if exc.status_code == 404:
        return CredentialNotFoundError(names, exc.message)
    if exc.status_code in (401, 403, 409):
        return CredentialAuthError(exc.message)
    if exc.status_code == 429:
        return CredentialRateLimitError()
    return CredentialServiceError(exc.status_code, exc.message)


def _state_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """The top-level keys a call added, changed or deleted (``None`` when nothing changed).

    The server merges these into the execution's tool state, key by key. Sending only the
    changed keys keeps the writes of parallel calls to different keys; a deleted key is
    sent as ``None`` because a merge cannot remove it, so later calls read it as ``None``.
    """
    changes = {key: value for key, value in after.items() if key not in before or before[key] != value}
    changes.update((key, None) for key in before if key not in after)
    return changes or None


@dataclass(frozen=True, slots=True)
class _Failure:
    error: str
    retryable: bool


class _BadArguments(ValueError):
    """The model's arguments do not fit the function (reported, not retried)."""


class _IsolatedFailure(Exception):
    """An ``isolated=True`` call failed in its process (the child's error, as text)."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
