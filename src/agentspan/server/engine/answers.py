"""Accepting an agent's final answer: finish with it, or send a structured answer that
fails its schema back to the model. Reached once the output guardrails (if any) passed."""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import EventDraft
from agentspan.server.engine.schema_check import check, parse_json_answer
from agentspan.server.engine.steps import Step, add_messages, finish, next_model_call

MAX_OUTPUT_RETRIES = 2
"""Structured answers that fail their schema are sent back this many times, then the run fails."""


def accept_answer(spec: AgentConfig, d: Step, text: str) -> None:
    """Finish with the answer, or send a structured answer that fails its schema back."""
    s = d.state
    reason = "rejected" if s.turn_had_rejection else "stop"
    schema = (spec.output_type or {}).get("schema")
    if not isinstance(schema, dict):
        finish(d, "COMPLETED", output=text, finish_reason=reason)
        return
    value, problem = parse_json_answer(text)
    problems = [problem] if problem else check(value, schema)
    if not problems:
        finish(d, "COMPLETED", output=value, finish_reason=reason)
        return
    s.output_attempts += 1
    listed = "; ".join(problems)
    if s.output_attempts > MAX_OUTPUT_RETRIES or s.turn >= spec.max_turns:
        finish(
            d,
            "FAILED",
            error=f"the answer did not match the output schema after {s.output_attempts} attempts: {listed}",
            finish_reason="error",
        )
        return
    d.events.append(EventDraft("output_invalid", {"content": listed, "data": {"attempt": s.output_attempts}}))
    add_messages(
        d,
        [
            {
                "role": "user",
                "content": (
                    f"Your answer does not match the required JSON schema: {listed}. "
                    "Reply again with only a JSON document that matches the schema."
                ),
            }
        ],
    )
    next_model_call(spec, d)
