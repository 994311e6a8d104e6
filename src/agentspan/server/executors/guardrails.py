"""The judge of an LLM guardrail: one ``llm_guardrail`` task is one model call that rates
a text against the guardrail's policy.

It is a server-side task like a tool call (lease, fencing, retries with the same
idempotency key), made through the provider layer with the server's keys, and its tokens
and cost go back with the verdict (the engine adds them to the execution's usage).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from agentspan.server.engine.guardrails import LLM_JUDGE
from agentspan.server.engine.model import LlmResult
from agentspan.server.executors.base import ExecutorContext, resolve_model
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor
from agentspan.server.providers import LlmRequest, ProviderError
from agentspan.server.providers.prices import PriceTable

JUDGE_INSTRUCTIONS = (
    "You are a strict content reviewer. Decide whether the content below complies with the "
    "policy. Answer with only a JSON object: "
    '{"passed": true or false, "reason": "one sentence saying why"}.'
)
MAX_CONTENT_CHARS = 100_000
"""Longer content is cut before it is sent to the judge (the policy is never cut)."""
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def judgement(text: str | None) -> tuple[bool, str]:
    """The judge's verdict; an answer that cannot be read fails closed."""
    match = _OBJECT.search(text or "")
    try:
        value = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("passed"), bool):
        shown = (text or "").strip()[:200]
        return False, f"the judge's answer could not be read as a verdict: {shown!r}"
    return value["passed"], str(value.get("reason") or "")


class LlmGuardrailExecutor(ToolExecutor):
    kind = LLM_JUDGE
    lease_seconds = 60.0
    concurrency = 16
    reruns_lost_leases = True  # a judge call has no effect outside the database

    def __init__(self) -> None:
        self.prices = PriceTable.load()

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        args = call.args
        model = str(args.get("model") or "")
        content = str(args.get("content") or "")[:MAX_CONTENT_CHARS]
        prompt = f"Policy:\n{args.get('policy', '')}\n\nContent:\n{content}"
        max_tokens = args.get("maxTokens")
        started = time.perf_counter()
        options: dict[str, Any] = {}
        scripted = args.get("scriptedTurns")
        if isinstance(scripted, list) and scripted:
            # A scripted judge (tests, offline examples): the verdict for this check.
            options["scriptedTurns"] = [scripted[min(int(args.get("iteration") or 0), len(scripted) - 1)]]
        try:
            provider, model_name = await resolve_model(ctx, model)
            reply = await provider.complete(
                LlmRequest(
                    model=model_name,
                    messages=[{"role": "user", "content": prompt}],
                    instructions=JUDGE_INSTRUCTIONS,
                    temperature=0.0,
                    max_tokens=int(max_tokens) if isinstance(max_tokens, int) else None,
                    options=options,
                ),
                None,
            )
        except ProviderError as exc:
            raise ToolCallError(f"the judge model failed: {exc}", retryable=exc.retryable) from exc
        passed, reason = judgement(reply.content)
        usage = reply.usage
        llm = LlmResult(
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            finish_reason=reply.finish_reason,
            latency_ms=(time.perf_counter() - started) * 1000,
            cost_usd=self.prices.cost(
                model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
            ),
        )
        return {"passed": passed, "message": reason, "llm": llm.model_dump(exclude={"kind"})}
