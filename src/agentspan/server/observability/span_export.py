"""Traces are built and exported in a child process, so the server's event loop pays only
for handing it the committed steps that make spans.

Building a span (``tracing.py``) and encoding it for OTLP cost about 0.3 ms of CPU per
durable turn in the server process, measured — several percent of a turn that is itself
mostly the server's CPU, and the exporter's batch thread took the GIL from the event loop
while it encoded. So the server's ``SpanForwarder`` only picks the steps that make spans
(a model reply, a tool call or result, an execution ending) and hands them, with their
events' payloads as committed, to a writer thread; the thread sends them in batches as
JSON lines over a pipe to ``python -m agentspan.server.observability.span_export``, which
runs ``TracingObserver`` with the OpenTelemetry SDK's batch processor and OTLP/HTTP
exporter. Its CPU is spent on another core.

The child lives as long as the server: it exits, after exporting what it holds, when its
input closes (the server's stop, or the server's death). It runs in its own session, so a
terminal's Ctrl-C stops the server, which then closes the child's input, rather than
killing the child with its last spans. Spans are best effort, like any OTLP pipeline: what
the child cannot take (it died, and was restarted less than ``RESTART_AFTER`` ago, or the
server produced more than ``MAX_PENDING`` steps faster than it took them) is dropped and
counted (``dropped``), never queued without bound and never allowed to slow a run.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import logging.config
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from agentspan.server.observability.log_format import JsonFormatter, log_config
from agentspan.server.observability.tracing import CONTENT_EVENTS, SPAN_EVENTS, TERMINAL, TracingObserver
from agentspan.server.observers import Notification, StepCommitted
from agentspan.server.store.base import EventRow

log = logging.getLogger("agentspan.server.tracing")

_MAKE_SPANS = SPAN_EVENTS - {"error"}
LINGER_S = 0.2
"""How long the writer gathers steps after the first before it sends them: batches, not a
wake-up per step."""
MAX_PENDING = 20_000
RESTART_AFTER = 10.0
CLOSE_TIMEOUT_S = 10.0
ENDPOINT_VARIABLE = "AGENTSPAN_SPAN_EXPORT_URL"
"""The exporter process's traces URL (the server's resolved ``endpoint_from_env()``)."""
NICENESS = 15
"""The exporter process's scheduling priority, lowered: it only ever competes with runs."""

Projection = list[Any]
"""``[execution, root, parent, agent, status before, status after, at, started at,
[[event type, seq, ts, payload], ...]]``: what a span needs of a committed step."""


def project(note: StepCommitted, wanted: frozenset[str]) -> Projection | None:
    """The part of ``note`` that makes spans (its events of the ``wanted`` types), or None
    when it makes none."""
    events = [[e.type, e.seq, e.ts, e.payload] for e in note.events if e.type in wanted]
    if not any(e[0] in _MAKE_SPANS for e in events) and not (
        note.status_after in TERMINAL and note.status_before not in TERMINAL
    ):
        return None
    return [
        note.execution_id,
        note.root_id,
        note.parent_id,
        note.agent_name,
        note.status_before,
        note.status_after,
        note.at,
        note.started_at,
        events,
    ]


def encode(batch: Sequence[Projection]) -> bytes:
    return json.dumps(batch, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> list[StepCommitted]:
    """The steps of one batch, as ``TracingObserver`` takes them."""
    notes = []
    for execution, root, parent, agent, before, after, at, started, events in json.loads(line):
        rows = tuple(EventRow(execution, seq, kind, payload, ts) for kind, seq, ts, payload in events)
        notes.append(
            StepCommitted(execution, root, parent, agent, "", before, after, 0, rows, (), at, started)
        )
    return notes


class SpanForwarder:
    """The server's tracing observer: steps that make spans go to the exporter process."""

    def __init__(
        self, endpoint: str, capture_content: bool = False, restart_after: float = RESTART_AFTER
    ) -> None:
        self.endpoint = endpoint
        self.restart_after = restart_after
        self.capture = capture_content
        self._wanted = SPAN_EVENTS | CONTENT_EVENTS if capture_content else SPAN_EVENTS
        self._dropped_queued = 0
        """Steps refused because too many were waiting (counted on the event loop)."""
        self._dropped_sending = 0
        """Steps the child could not take (counted by the writer thread)."""
        self._pending: collections.deque[Projection] = collections.deque()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._thread = threading.Thread(target=self._run, name="agentspan-span-export", daemon=True)
        self._thread.start()

    def observe_now(self, note: Notification) -> None:
        if not isinstance(note, StepCommitted):
            return
        record = project(note, self._wanted)
        if record is None:
            return
        if len(self._pending) >= MAX_PENDING:
            self._dropped_queued += 1
            return
        self._pending.append(record)
        if not self._wake.is_set():
            self._wake.set()

    @property
    def dropped(self) -> int:
        """Committed steps that made no span: each counter has one writer, so no lock."""
        return self._dropped_queued + self._dropped_sending

    @property
    def child_pid(self) -> int | None:
        """The exporter process's pid, once it has started."""
        return self._child.pid if self._child is not None else None

    def shutdown(self) -> None:
        """Send what is pending, then let the child export what it holds and exit."""
        self._closing.set()
        self._wake.set()
        # Longer than the writer thread's own wait for the child, so the child is killed
        # (if it must be) before the server goes on stopping.
        self._thread.join(CLOSE_TIMEOUT_S + 5)

    # --- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait()
            self._closing.wait(LINGER_S)
            self._wake.clear()
            self._send()
        self._send()
        self._close_child()

    def _send(self) -> None:
        batch = []
        while self._pending:
            batch.append(self._pending.popleft())
        if not batch:
            return
        child = self._live_child()
        if child is None or child.stdin is None:
            self._dropped_sending += len(batch)
            return
        try:
            child.stdin.write(encode(batch))
            child.stdin.flush()
        except OSError:
            self._dropped_sending += len(batch)
            log.warning("the span exporter process stopped taking spans; %d steps dropped", len(batch))

    def _live_child(self) -> subprocess.Popen[bytes] | None:
        child = self._child
        if child is not None and child.poll() is None:
            return child
        if child is not None:
            if time.monotonic() - self._started_at < self.restart_after:
                return None
            log.warning("the span exporter process exited with %s; starting another", child.returncode)
        self._started_at = time.monotonic()
        command = [sys.executable, "-m", __name__, "--log-format", _server_log_format()]
        if self.capture:
            command.append("--capture-content")
        try:
            # Its own session: a terminal's Ctrl-C, sent to the server's process group, does
            # not reach it; it ends when the server closes its input.
            self._child = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
                # In the environment, not the command line: a URL may carry credentials,
                # and any local user can read a command line.
                env={**os.environ, ENDPOINT_VARIABLE: self.endpoint},
            )
        except OSError as exc:
            log.warning("the span exporter process could not start: %s", exc)
            self._child = None
        return self._child

    def _close_child(self) -> None:
        child = self._child
        if child is None:
            return
        with contextlib.suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()
        try:
            child.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("the span exporter process did not finish exporting in %.0f s", CLOSE_TIMEOUT_S)
            child.kill()
            child.wait()


def _server_log_format() -> str:
    """``json`` when this server logs JSON lines, so the exporter process's lines match."""
    handlers = logging.getLogger("agentspan").handlers
    return "json" if any(isinstance(h.formatter, JsonFormatter) for h in handlers) else "text"


# --- the exporter process ---------------------------------------------------------------


def _batches(stream: Any) -> Iterator[list[StepCommitted]]:
    for line in stream:
        try:
            yield decode(line)
        except (ValueError, TypeError):
            # Never the line itself: it holds the run's payloads.
            log.warning("the span exporter skipped a batch it could not read")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the server's spans over OTLP/HTTP.")
    parser.add_argument("--capture-content", action="store_true")
    parser.add_argument("--log-format", default="text")
    args = parser.parse_args(argv)
    # Started in its own session, so a terminal's Ctrl-C does not reach it; ignored anyway:
    # this process ends when the server closes its input, after exporting what it holds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Background work: when the machine is busy, runs come first. The batch processor's
    # queue absorbs the delay.
    os.nice(NICENESS)
    _configure_logging(args.log_format)

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # A larger queue than the SDK's default (2,048 spans): this process has nothing else
    # to do, and a burst of runs should not drop spans here.
    queue = int(os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE") or 16_384)
    processor = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=os.environ[ENDPOINT_VARIABLE]), max_queue_size=queue
    )
    observer = TracingObserver(processor, args.capture_content)
    try:
        for notes in _batches(sys.stdin.buffer):
            for note in notes:
                try:
                    observer.observe_now(note)
                except Exception as exc:  # noqa: BLE001 - one bad step must not stop the others' spans
                    log.warning("a span could not be built: %s", type(exc).__name__)
    finally:
        observer.shutdown()
    return 0


def _configure_logging(fmt: str) -> None:
    config = log_config("warning", fmt if fmt in ("text", "json") else "text")
    config["loggers"]["opentelemetry"] = {"handlers": ["default"], "level": "WARNING", "propagate": False}
    logging.config.dictConfig(config)


if __name__ == "__main__":
    sys.exit(main())
