"""Server-side work: model calls, timers and the no-worker watchdog.

Model calls go through the same durable task queue as tools, leased by this server, so a
server killed mid-call leaves a task that is simply claimed again on restart. The result
is recorded (and the task deleted) in one transaction, so a recorded reply is never
requested twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import OrderedDict
from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.driver import Driver, _Effects
from agentspan.server.engine.model import (
    BudgetExceeded,
    ExecState,
    LlmFailed,
    LlmResult,
    TimedOut,
    ToolCallIn,
    WorkerMissing,
)
from agentspan.server.engine.specs import offered_tools
from agentspan.server.providers import LlmRequest, LlmResponse, LlmToolSpec, ProviderError, ProviderRegistry
from agentspan.server.providers.base import DeltaCallback
from agentspan.server.providers.prices import PriceTable
from agentspan.server.settings import Settings
from agentspan.server.store.base import ExecutionRow, Store, TaskRow

log = logging.getLogger("agentspan.server")


class Dispatcher:
    def __init__(self, driver: Driver, settings: Settings, providers: ProviderRegistry) -> None:
        self.driver = driver
        self.store = driver.store
        self.hub = driver.hub
        self.settings = settings
        self.providers = providers
        self.prices = PriceTable.load()
        self.instance_id = f"server-{uuid.uuid4().hex[:8]}"
        self._running: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._starved = False
        self._conversations = ConversationCache()

    async def start(self) -> None:
        self.driver.llm_runner = self
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="agentspan-dispatch"),
            asyncio.create_task(self._watchdog_loop(), name="agentspan-watchdog"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        if self.driver.llm_runner is self:
            self.driver.llm_runner = None
        for task in [*self._loops, *self._running]:
            task.cancel()
        for task in [*self._loops, *self._running]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- the dispatch loop --------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            # Listen before claiming: a model call queued while this loop is busy (or
            # awaiting the store) must still wake it.
            wake = self.hub.listen(["internal"])
            try:
                await self._dispatch_once()
                next_due = min(
                    (
                        t
                        for t in [
                            await self.store.next_due("llm", None),
                            await self.store.next_due("timer", None),
                        ]
                        if t is not None
                    ),
                    default=None,
                )
                timeout = 30.0 if next_due is None else max(next_due - time.time(), 0.0) + 0.001
                if len(self._running) >= self.settings.llm_concurrency:
                    timeout = max(timeout, 0.05)
                await self.hub.wait_for(wake, min(timeout, 30.0))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch loop error; retrying in 1s")
                await asyncio.sleep(1.0)
            finally:
                self.hub.unlisten(["internal"], wake)

    async def _dispatch_once(self) -> None:
        now = time.time()
        free = self.settings.llm_concurrency - len(self._running)
        async with self.store.transaction() as tx:
            llm = (
                await tx.claim_tasks(
                    "llm", None, now, free, self.settings.llm_lease_seconds, self.instance_id
                )
                if free > 0
                else []
            )
            timers = await tx.claim_tasks("timer", None, now, 100, 60.0, self.instance_id)
        # Full, or took all the room there was: more may be waiting for a free slot.
        self._starved = free <= 0 or len(llm) >= free
        for task in llm:
            self.run_leased(task)
        for task in timers:
            await self._fire_timer(task)

    # --- LlmRunner: model calls handed over by the driver ---------------------------------

    def has_room(self) -> bool:
        return not self._stopping and len(self._running) < self.settings.llm_concurrency

    def lease_seconds(self) -> float:
        return self.settings.llm_lease_seconds

    def run_leased(
        self, task: TaskRow, row: ExecutionRow | None = None, state: ExecState | None = None
    ) -> None:
        """Run a model call whose task is leased to this server (claimed or handed over;
        ``row``, when given, is the execution as the handing-over step committed it)."""
        job = asyncio.create_task(self._run_llm(task, row, state))
        self._running.add(job)
        job.add_done_callback(self._job_done)

    def _job_done(self, job: asyncio.Task[None]) -> None:
        self._running.discard(job)
        if self._starved:
            self.hub.notify("internal")  # a slot is free again and calls may be queued

    async def _fire_timer(self, task: TaskRow) -> None:
        effects = _Effects()
        async with self.store.transaction() as tx:
            if await tx.take_task(task.id, task.lease_id or "") is None:
                return
            row = await tx.get_execution(task.execution_id)
            if row is not None:
                await self.driver.apply_in(tx, row, TimedOut(), effects)
        self.driver.after_commit(effects)

    # --- model calls --------------------------------------------------------------------

    async def _run_llm(
        self, task: TaskRow, row: ExecutionRow | None = None, state: ExecState | None = None
    ) -> None:
        heartbeat = asyncio.create_task(self._keep_lease(task))
        try:
            try:
                prepared = await self._prepare(task, row, state)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database, not the run, is at fault
                # A store read failed (e.g. a dropped connection): nothing was recorded,
                # so the call is simply tried again soon; the run must not fail for it.
                log.warning(
                    "reading %s for its model call failed; retrying", task.execution_id, exc_info=True
                )
                await self._retry_soon(task)
                return
            if prepared is None:
                return
            result = await self._call(task, *prepared)
        finally:
            heartbeat.cancel()
        try:
            await self._record(task, result)
        except Exception:  # noqa: BLE001 - rolled back; the call is made again
            log.exception("recording the model reply for %s failed; retrying", task.execution_id)
            await self._retry_soon(task)

    async def _prepare(
        self, task: TaskRow, row: ExecutionRow | None, state: ExecState | None
    ) -> tuple[AgentConfig, str, list[dict[str, Any]]] | None:
        """The spec, execution id and conversation for a model call (store reads only;
        a handed-over call comes with its row and state, so it reads neither)."""
        if row is None:
            row = await self.store.get_execution(task.execution_id)
            state = None
        if row is None:
            return None
        spec = await self.driver.spec_of(row)
        if state is None:
            state = ExecState.model_validate_json(row.state)
        budget = await self.store.get_budget(row.root_id) if state.budgeted is not False else None
        over = budget.exceeded() if budget is not None else None
        if over is not None:
            await self._record(task, BudgetExceeded(reason=over))
            return None
        return spec, row.id, await self._conversations.get(self.store, row.id, state.message_count)

    async def _call(
        self, task: TaskRow, spec: AgentConfig, execution_id: str, messages: list[dict[str, Any]]
    ) -> LlmResult | LlmFailed:
        started = time.perf_counter()
        try:
            reply = await self._call_with_retries(
                spec, messages, self.hub.delta_sink(execution_id), planning=task.call_id == "plan"
            )
            return self._to_result(spec, reply, time.perf_counter() - started)
        except ProviderError as exc:
            return LlmFailed(error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must fail the execution visibly, not hang it
            log.exception("model call for %s crashed", execution_id)
            return LlmFailed(error=f"internal error: {exc!r}")

    async def _retry_soon(self, task: TaskRow) -> None:
        """Let the task be claimed again in a second instead of after its whole lease."""
        try:
            async with self.store.transaction() as tx:
                await tx.extend_lease(task.id, task.lease_id or "", time.time() + 1.0)
        except Exception:  # noqa: BLE001 - still down: the lease expires on its own
            log.debug("could not shorten the lease of %s", task.id, exc_info=True)
        self.hub.notify("internal")

    async def _record(self, task: TaskRow, result: LlmResult | LlmFailed | BudgetExceeded) -> None:
        effects = _Effects()
        async with self.store.transaction() as tx:
            if await tx.take_task(task.id, task.lease_id or "") is None:
                return  # another server took over this call; its result wins
            row = await tx.get_execution(task.execution_id)
            state = await self.driver.apply_in(tx, row, result, effects) if row is not None else None
        self.driver.after_commit(effects)
        if state is None or state.terminal or state.selecting or state.awaiting_approval():
            # Ended, or waiting for a human (perhaps for days): its next model call, if any,
            # can read the conversation again rather than keep it in memory meanwhile.
            self._conversations.drop(task.execution_id)

    async def _keep_lease(self, task: TaskRow) -> None:
        ttl = self.settings.llm_lease_seconds
        while True:
            await asyncio.sleep(ttl / 3)
            async with self.store.transaction() as tx:
                if not await tx.extend_lease(task.id, task.lease_id or "", time.time() + ttl):
                    return

    async def _call_with_retries(
        self,
        spec: AgentConfig,
        messages: list[dict[str, Any]],
        on_delta: DeltaCallback | None,
        *,
        planning: bool = False,
    ) -> LlmResponse:
        provider, model_name = self.providers.resolve(spec.model or "")
        request = build_request(spec, model_name, messages, planning=planning)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await provider.complete(request, on_delta)
            except ProviderError as exc:
                if not exc.retryable or attempt >= self.settings.llm_max_attempts:
                    raise
                delay = exc.retry_after if exc.retry_after is not None else min(2 ** (attempt - 1), 30)
                delay = delay * (1 + random.random() * 0.1)  # jitter spreads out retry storms
                log.warning("model call failed (%s); retry %d in %.1fs", exc, attempt, delay)
                await asyncio.sleep(delay)

    def _to_result(self, spec: AgentConfig, reply: LlmResponse, seconds: float) -> LlmResult:
        usage = reply.usage
        model = spec.model or ""
        return LlmResult(
            content=reply.content,
            tool_calls=[
                ToolCallIn(id=tc.id, name=tc.name, arguments=tc.arguments) for tc in reply.tool_calls
            ],
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            finish_reason=reply.finish_reason,
            model=model,
            latency_ms=seconds * 1000,
            cost_usd=self.prices.cost(
                model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
            ),
            thinking=reply.thinking,
        )

    # --- the no-worker watchdog ---------------------------------------------------------

    async def _watchdog_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.watchdog_interval_seconds)
            try:
                await self._watch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watchdog error")

    async def _watch_once(self) -> None:
        now = time.time()
        window = self.settings.no_worker_after_seconds
        candidates = await self.store.stalled_candidates(now - window, now - window)
        for task in candidates:
            effects = _Effects()
            async with self.store.transaction() as tx:
                await tx.mark_stalled([task.id])
                row = await tx.get_execution(task.execution_id)
                if row is not None:
                    waited = now - task.available_at
                    await self.driver.apply_in(
                        tx, row, WorkerMissing(tool_name=task.name, waited_seconds=waited), effects
                    )
            self.driver.after_commit(effects)


class ConversationCache:
    """The conversations of recent model calls, so each call reads only the messages
    added since the previous one instead of the whole history (which made a step's cost
    grow with the conversation). Messages are append-only and indexed, so a tail read is
    always right, also when another replica wrote the tail.

    Bounded by an estimate of the text it holds (``max_bytes``, default 8 MB): least
    recently used conversations are dropped first, and a conversation larger than the
    whole budget is not kept at all. Executions paused for a human sit at the cold end.
    """

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self._cache: OrderedDict[str, tuple[list[dict[str, Any]], int]] = OrderedDict()
        self._bytes = 0
        self.max_bytes = max_bytes

    async def get(self, store: Store, execution_id: str, count: int) -> list[dict[str, Any]]:
        messages, size = self._cache.pop(execution_id, ([], 0))
        self._bytes -= size
        if len(messages) > count:  # cannot happen with an append-only log; start over
            messages, size = [], 0
        if len(messages) < count:
            tail = await store.list_messages(execution_id, start=len(messages))
            messages = messages + tail
            size += sum(_estimated_bytes(m) for m in tail)
        if size <= self.max_bytes:
            self._cache[execution_id] = (messages, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._bytes -= dropped
        return list(messages)  # the caller's own list; the dicts are shared, never changed

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self._cache

    def drop(self, execution_id: str) -> None:
        _, size = self._cache.pop(execution_id, ([], 0))
        self._bytes -= size

    @property
    def held_bytes(self) -> int:
        return self._bytes


def _estimated_bytes(message: dict[str, Any]) -> int:
    """Roughly what a message holds: its text and tool-call arguments, plus overhead."""
    size = 200 + len(str(message.get("content") or ""))
    for call in message.get("tool_calls") or ():
        size += 100 + len(str(call.get("arguments") or ""))
    return size


PLANNING_INSTRUCTIONS = (
    "Before acting, write a short numbered plan of the steps you will take to handle the "
    "request (which tools or agents you will use and why). Do not carry it out yet."
)


def build_request(
    spec: AgentConfig, model_name: str, messages: list[dict[str, Any]], *, planning: bool = False
) -> LlmRequest:
    """The provider-neutral request for the next model call of an agent."""
    thinking = spec.thinking_config
    budget = thinking.budget_tokens if thinking is not None and thinking.enabled else None
    options: dict[str, Any] = {}
    if spec.scripted_turns is not None:
        options["scriptedTurns"] = spec.scripted_turns
    if spec.llm_options is not None:
        options.update(spec.llm_options)
    instructions = spec.instructions if isinstance(spec.instructions, str) else None
    return LlmRequest(
        model=model_name,
        messages=messages,
        tools=[]
        if planning
        else [LlmToolSpec(t.name, t.description, t.input_schema) for t in offered_tools(spec)],
        instructions="\n\n".join(p for p in (instructions, PLANNING_INSTRUCTIONS) if p)
        if planning
        else instructions,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        base_url=spec.base_url,
        output_schema=None if planning else (spec.output_type or {}).get("schema"),
        thinking_budget_tokens=int(budget) if isinstance(budget, int | float) else None,
        options=options,
    )
