"""Agents shared by the chaos tests and the worker processes they kill.

Both sides import this file, so the tool names match; only the worker process serves.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from agentspan.agents import Agent, CallbackHandler, Guardrail, GuardrailResult, ToolContext, guardrail, tool


@tool(retry_count=0)
def slow_step(n: int, context: ToolContext) -> str:
    """A step that records each run, then is slow when CHAOS_SLOW=1."""
    log = Path(os.environ["CHAOS_LOG"])
    with log.open("a") as fh:
        fh.write(f"{os.getpid()} {context.idempotency_key} {context.attempt}\n")
    if os.environ.get("CHAOS_SLOW") == "1":
        time.sleep(120)
    return f"step {n} done by {os.getpid()}"


@tool
def gated_step(name: str) -> str:
    """Blocks until the gate file exists (so a server can be killed meanwhile)."""
    gate = Path(os.environ["CHAOS_GATE"])
    deadline = time.monotonic() + 60
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"gated {name}"


@tool(approval_required=True)
def risky_step(name: str) -> str:
    """Needs a human."""
    return f"risky {name}"


def worker_agent() -> Agent:
    return Agent(name="chaos_worker", model="openai/gpt-4o", tools=[slow_step])


def mixed_agent() -> Agent:
    return Agent(name="chaos_mixed", model="openai/gpt-4o", tools=[gated_step, risky_step, slow_step])


def _note(line: str) -> None:
    with Path(os.environ["CHAOS_LOG"]).open("a") as fh:
        fh.write(line + "\n")


@guardrail
def first_check(content: str) -> GuardrailResult:
    """A quick guardrail whose verdict is recorded before the server is killed."""
    _note(f"first {os.getpid()}")
    return GuardrailResult(passed=True)


@tool(name="slow_check")
def slow_check_worker(content: str, iteration: int, context: ToolContext) -> dict[str, object]:
    """Serves the external guardrail ``slow_check``: records each run, slow when CHAOS_SLOW=1."""
    _note(f"slow {os.getpid()} {context.idempotency_key} {context.attempt}")
    if os.environ.get("CHAOS_SLOW") == "1":
        time.sleep(120)
    return {"passed": True, "message": ""}


def guarded_agent() -> Agent:
    """Checked by a custom guardrail, then by an external one (``slow_check``)."""
    rails = [Guardrail(first_check, on_fail="raise"), Guardrail(name="slow_check", on_fail="raise")]
    return Agent(name="chaos_guarded", model="openai/gpt-4o", guardrails=rails)


def guard_holder() -> Agent:
    """Only so ``serve`` registers the external guardrail's worker."""
    return Agent(name="chaos_guard_holder", model="openai/gpt-4o", tools=[slow_check_worker])


class NotingHandler(CallbackHandler):
    """Records each callback run; ``on_model_end`` is slow when CHAOS_SLOW=1."""

    def on_agent_start(self, **kwargs: object) -> None:
        _note(f"before_agent {os.getpid()}")

    def on_model_start(self, **kwargs: object) -> None:
        _note(f"before_model {os.getpid()}")

    def on_model_end(self, **kwargs: object) -> dict[str, str]:
        _note(f"after_model {os.getpid()}")
        if os.environ.get("CHAOS_SLOW") == "1":
            time.sleep(120)
        return {"response": f"reviewed by {os.getpid()}"}

    def on_agent_end(self, **kwargs: object) -> None:
        _note(f"after_agent {os.getpid()}")


def hooked_agent() -> Agent:
    return Agent(name="chaos_hooked", model="openai/gpt-4o", callbacks=[NotingHandler()])
