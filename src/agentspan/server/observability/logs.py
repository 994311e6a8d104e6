"""``LogObserver``: one log line per execution state change and per failure.

Fed by the post-commit observer bus, so a line is written only for what committed, and
never inside a transaction. Lines carry ids, the agent, statuses and error messages
(which the engine and the providers already masked: ``providers/redaction.py``); never
prompts, outputs or tool arguments.
"""

from __future__ import annotations

import json
import logging

from agentspan.server.observers import Notification, StepCommitted, TaskFinished

log = logging.getLogger("agentspan.server.executions")

_FAILURE_EVENTS = frozenset({"error", "worker_missing", "budget_exceeded", "branches_failed"})
_MAX_MESSAGE = 500


class LogObserver:
    def observe_now(self, note: Notification) -> None:
        if isinstance(note, StepCommitted):
            self._step(note)
        elif isinstance(note, TaskFinished) and note.outcome == "lease_lost":
            log.warning(
                "execution %s: lease lost on %s task %r (attempt %d); it runs again",
                note.execution_id,
                note.kind,
                note.name,
                note.attempt,
            )

    def _step(self, note: StepCommitted) -> None:
        who = f"execution {note.execution_id} agent={note.agent_name!r}"
        if note.input_kind == "start":
            parent = f" parent={note.parent_id}" if note.parent_id else ""
            log.info("%s started%s", who, parent)
        elif note.input_kind == "fork":
            log.info("%s started (a fork)", who)
        elif note.status_after != note.status_before:
            log.info("%s %s -> %s (%s)", who, note.status_before, note.status_after, note.input_kind)
        if note.input_kind == "llm_failed":
            log.warning("%s: model call failed: %s", who, _message(note, "llm_failed"))
        for event in note.events:
            if event.type in _FAILURE_EVENTS:
                log.warning("%s: %s: %s", who, event.type, _content(event.payload))

    # An event's payload is JSON of its fields; ``content`` is the human sentence.


def _content(payload: str) -> str:
    try:
        doc = json.loads(payload)
    except ValueError:
        return ""
    text = doc.get("content") if isinstance(doc, dict) else None
    return str(text)[:_MAX_MESSAGE] if text else ""


def _message(note: StepCommitted, kind: str) -> str:
    texts = [_content(e.payload) for e in note.events if e.type in ("error", "tool_retry")]
    return next((t for t in texts if t), f"see the execution's events ({kind})")
