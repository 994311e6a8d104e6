"""The model-call executor: one ``llm`` task is one call to the agent's model.

Model calls go through the same durable task queue as tools, leased by this server, so a
server killed mid-call leaves a task that is simply claimed again on restart (the pool
records the reply and deletes the task in one transaction, so a recorded reply is never
requested twice).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback

from agentspan.protocol.messages import ChatMessage
from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import (
    BudgetExceeded,
    Condensation,
    ContextCondensed,
    ExecState,
    Input,
    LlmFailed,
    LlmResult,
    ToolCallIn,
)
from agentspan.server.engine.session_state import MissingStateVariable, render
from agentspan.server.engine.waits import waiting_calls
from agentspan.server.executors.base import ExecutorContext, Job, resolve_model
from agentspan.server.executors.condensing import (
    CHARS_PER_TOKEN,
    OVERFLOW_SHRINK,
    SUMMARY_INSTRUCTIONS,
    SUMMARY_MAX_TOKENS,
    budget_tokens,
    condensed_view,
    estimated_tokens,
    exchanges,
    is_context_overflow,
    plan,
    summary_request,
    transcript,
)
from agentspan.server.executors.conversations import ConversationCache
from agentspan.server.executors.prompts import build_request, scripted_after_history, with_signal
from agentspan.server.executors.recall import with_recalled
from agentspan.server.observers import LlmCallFinished, ObserverBus
from agentspan.server.providers import LlmRequest, LlmResponse, Provider, ProviderError
from agentspan.server.providers.base import DeltaCallback
from agentspan.server.providers.context_windows import context_window
from agentspan.server.providers.prices import PriceTable
from agentspan.server.providers.redaction import mask_text, secret_forms
from agentspan.server.settings import Settings

log = logging.getLogger("agentspan.server")


class LlmExecutor:
    kind = "llm"
    reruns_lost_leases = True  # a model call has no effect outside the database

    def __init__(self, settings: Settings, observers: ObserverBus | None = None) -> None:
        self.settings = settings
        self.lease_seconds = settings.llm_lease_seconds
        self.concurrency = settings.llm_concurrency
        self.prices = PriceTable.load()
        self.conversations = ConversationCache()
        self._observers = observers

    async def run(self, job: Job, ctx: ExecutorContext) -> Input | None:
        prepared = await self._prepare(job, ctx)
        if prepared is None or isinstance(prepared, BudgetExceeded | LlmFailed):
            return prepared
        spec, messages, state = prepared
        planning = job.task.call_id == "plan"
        # The operator's signal is shown in this call's copy only (never stored, never
        # condensed): condensing works on the stored messages' indexes.
        sent = with_signal(condensed_view(messages, state.condensed), state.signal)
        condensed = await self._condense(job.task.execution_id, spec, messages, sent, state, ctx, planning)
        if condensed is not None:
            return condensed
        called = await self._call(job.task.execution_id, spec, sent, ctx, planning=planning)
        if isinstance(called, LlmFailed) and is_context_overflow(called.error):
            # The provider counted more than we estimated: condense below what was sent.
            sent_tokens = estimated_tokens(build_request(spec, "", sent, planning=planning))
            limit = max(int(sent_tokens * OVERFLOW_SHRINK), 1)
            shrunk = await self._condense(
                job.task.execution_id, spec, messages, sent, state, ctx, planning, limit=limit
            )
            if shrunk is None:
                return LlmFailed(error=f"{called.error} (and no older messages are left to condense)")
            return shrunk
        return called

    def recorded(self, job: Job, result: Input, state: ExecState | None) -> None:
        if state is None or state.terminal or state.selecting or waiting_calls(state):
            # Ended, or waiting for a human (perhaps for days): its next model call, if any,
            # can read the conversation again rather than keep it in memory meanwhile.
            self.conversations.drop(job.task.execution_id)
        if self._observers is not None and isinstance(result, LlmResult):
            self._observers.publish(
                LlmCallFinished(
                    execution_id=job.task.execution_id,
                    model=result.model,
                    prompt_tokens=result.prompt_tokens,
                    completion_tokens=result.completion_tokens,
                    cost_usd=result.cost_usd,
                    latency_ms=result.latency_ms,
                    finish_reason=result.finish_reason,
                )
            )

    async def _prepare(
        self, job: Job, ctx: ExecutorContext
    ) -> tuple[AgentConfig, list[ChatMessage], ExecState] | BudgetExceeded | LlmFailed | None:
        """The spec and conversation for a model call, or why not to make it (store reads
        only; a handed-over call comes with its row and state, so it reads neither)."""
        row, state = job.row, job.state
        if row is None:
            row = await ctx.store.get_execution(job.task.execution_id)
            state = None
        if row is None:
            return None
        spec = await ctx.spec_of(row)
        if state is None:
            state = ExecState.model_validate_json(row.state)
        budget = await ctx.store.get_budget(row.root_id) if state.budgeted is not False else None
        over = budget.exceeded() if budget is not None else None
        if over is not None:
            return BudgetExceeded(reason=over)
        spec = with_recalled(spec, state.recalled)  # server-kept semantic memory (engine/recall.py)
        try:
            spec = render(spec, state.tool_state)  # ADK's {var} instructions (session_state.py)
        except MissingStateVariable as exc:
            return LlmFailed(error=f"instructions of agent {spec.name!r}: {exc}")
        spec = scripted_after_history(spec, state.remembered_replies)
        return spec, await self.conversations.get(ctx.store, row.id, state.message_count), state

    async def _condense(
        self,
        execution_id: str,
        spec: AgentConfig,
        messages: list[ChatMessage],
        sent: list[ChatMessage],
        state: ExecState,
        ctx: ExecutorContext,
        planning: bool,
        *,
        limit: int | None = None,
    ) -> ContextCondensed | LlmFailed | None:
        """A summary call in place of a model call whose request would not fit the
        model's context window (``condensing.py``), or must fit in ``limit`` tokens (the
        provider refused a longer one); None: make the call as it is."""
        model = spec.model or ""
        if model.startswith("scripted/"):
            return None  # scripted turns are counted from the messages sent: never condensed
        window = context_window(model, self.settings.context_windows, self.settings.default_context_window)
        budget = budget_tokens(window, spec.max_tokens)
        request = build_request(spec, "", sent, planning=planning)
        if limit is not None:
            window, budget = min(window, limit), min(budget, limit)
        elif estimated_tokens(request) <= budget:
            return None
        cut = plan(messages, state.condensed, budget)
        if cut is None:
            return None  # nothing older left to condense: the provider decides
        # The summary call goes to the same model: its transcript must fit the same window.
        room = budget_tokens(window, SUMMARY_MAX_TOKENS) - int(len(SUMMARY_INSTRUCTIONS) / CHARS_PER_TOKEN)
        text = transcript(messages, state.condensed, cut.covered, int(max(room, 1) * CHARS_PER_TOKEN))
        started = time.perf_counter()
        try:
            provider, model_name = await resolve_model(ctx, model, spec.base_url)
            reply = await self._complete_with_retries(
                provider, summary_request(model_name, text, request.options), None
            )
        except ProviderError as exc:
            return LlmFailed(error=f"condensing the conversation failed: {exc}")
        summary = (reply.content or "").strip() or "(the summary model returned nothing)"
        condensation = Condensation(upto=cut.upto, summary=summary, keep=cut.keep)
        log.info("condensed %d messages of %s", len(cut.covered), execution_id)
        return ContextCondensed(
            condensation=condensation,
            trigger="proactive" if limit is None else "provider_refused",
            messages_before=len(sent),
            messages_after=len(condensed_view(messages, condensation)),
            exchanges_condensed=exchanges(messages, cut.covered),
            summary_call=self._to_result(spec, reply, time.perf_counter() - started),
        )

    async def _call(
        self,
        execution_id: str,
        spec: AgentConfig,
        messages: list[ChatMessage],
        ctx: ExecutorContext,
        *,
        planning: bool,
    ) -> LlmResult | LlmFailed:
        started = time.perf_counter()
        try:
            reply = await self._call_with_retries(
                ctx, spec, messages, ctx.delta_sink(execution_id), planning=planning
            )
            return self._to_result(spec, reply, time.perf_counter() - started)
        except ProviderError as exc:
            return LlmFailed(error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must fail the execution visibly, not hang it
            # Not a ProviderError, so nothing masked it yet: the text may hold a credential.
            forms = secret_forms(ctx.providers.secrets())
            trace = mask_text("".join(traceback.format_exception(exc)), forms)
            log.error("model call for %s crashed:\n%s", execution_id, trace)
            return LlmFailed(error=mask_text(f"internal error: {exc!r}", forms))

    async def _call_with_retries(
        self,
        ctx: ExecutorContext,
        spec: AgentConfig,
        messages: list[ChatMessage],
        on_delta: DeltaCallback | None,
        *,
        planning: bool = False,
    ) -> LlmResponse:
        provider, model_name = await resolve_model(ctx, spec.model or "", spec.base_url)
        request = build_request(spec, model_name, messages, planning=planning)
        return await self._complete_with_retries(provider, request, on_delta)

    async def _complete_with_retries(
        self, provider: Provider, request: LlmRequest, on_delta: DeltaCallback | None
    ) -> LlmResponse:
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
            max_tool_calls=self.settings.max_parallel_tool_calls,
        )
