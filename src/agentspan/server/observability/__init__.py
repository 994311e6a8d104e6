"""Metrics, traces and execution logs: observers of committed work plus one ASGI middleware.

``Observability.from_env()`` decides what runs in a server process:

- metrics (``AGENTSPAN_METRICS``, on unless ``0``/``false``): ``metrics.py`` counts
  committed steps, model calls and tasks; ``http.py`` times requests; ``/metrics``
  serves them (docs/operations.md lists every series);
- traces (opt-in: ``AGENTSPAN_OTEL_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``,
  needs ``pip install 'agentspan[otel]'``): ``tracing.py`` builds the spans and
  ``span_export.py`` exports them from a child process;
- execution logs (``AGENTSPAN_EXECUTION_LOGS``, on unless ``0``/``false``): ``logs.py``.

Each is an ``InlineObserver`` on the bus (``server/observers.py``): called after commit,
in one batch per burst of notifications, dropping what it cannot keep up with. None of
them runs inside a transaction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from agentspan.server.observability.logs import LogObserver
from agentspan.server.observability.metrics import Metrics, MetricsObserver
from agentspan.server.observability.tracing import tracing_observer
from agentspan.server.observers import AnyObserver, InlineObserver


class Tracer(InlineObserver, Protocol):
    """A tracing observer: ``TracingObserver`` in process, or ``SpanForwarder`` to the
    exporter process; ``shutdown`` exports what it still holds."""

    @property
    def dropped(self) -> int:
        """Committed steps that made no span because the tracer could not take them."""

    def shutdown(self) -> None: ...


_OFF = ("0", "false", "no", "off")


def _on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in _OFF


@dataclass
class Observability:
    metrics: Metrics | None = None
    observers: list[AnyObserver] = field(default_factory=list)
    tracing_enabled: bool = False
    tracer: Tracer | None = None

    def tracer_dropped(self) -> int:
        return self.tracer.dropped if self.tracer is not None else 0

    def close(self) -> None:
        """Flush what the tracer still holds (at server shutdown)."""
        if self.tracer is not None:
            self.tracer.shutdown()

    @classmethod
    def from_env(cls) -> Observability:
        found = cls()
        if _on("AGENTSPAN_METRICS"):
            found.metrics = Metrics()
            found.observers.append(MetricsObserver(found.metrics))
        if _on("AGENTSPAN_EXECUTION_LOGS"):
            found.observers.append(LogObserver())
        found.tracer = tracing_observer()
        if found.tracer is not None:
            found.observers.append(found.tracer)
            found.tracing_enabled = True
        return found
