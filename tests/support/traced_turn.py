"""One durable turn's committed steps, as the server's observers are told them: a model
call asking for a tool, the tool's result, and the model's final answer."""

from __future__ import annotations

import json

from agentspan.server.observers import StepCommitted
from agentspan.server.store.base import EventRow

EXECUTION = "2f1c9a7e-5b7d-4c1e-9a63-0d2b8e4f6a10"
T0 = 1_800_000_000.0


def step(
    events: list[tuple[str, dict[str, object]]], before: str = "RUNNING", after: str = "RUNNING"
) -> StepCommitted:
    rows = tuple(
        EventRow(EXECUTION, seq, kind, json.dumps(payload), T0 + seq)
        for seq, (kind, payload) in enumerate(events, 1)
    )
    return StepCommitted(
        EXECUTION, EXECUTION, None, "weather", "llm_result", before, after, 3, rows, (), T0 + 9, T0
    )


LLM: dict[str, object] = {
    "data": {"model": "openai/gpt-4o", "promptTokens": 12, "completionTokens": 3, "latencyMs": 40.0}
}
TURN = [
    step([("thinking", {"content": "weather: model call 1"})], before="NEW"),
    step(
        [
            ("llm_call", LLM),
            ("tool_call", {"call_id": "c1", "tool_name": "forecast", "args": {"city": "Oslo"}}),
        ]
    ),
    step([("tool_result", {"call_id": "c1", "tool_name": "forecast", "result": "rain"})]),
    step([("llm_call", LLM), ("done", {"output": "Rain in Oslo."})], after="COMPLETED"),
]
