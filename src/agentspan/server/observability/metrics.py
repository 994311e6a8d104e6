"""Prometheus metrics: what this process did, counted after commit, and the shared state
read on scrape.

Counters and histograms are per process (each replica counts what *it* committed,
claimed or served, so a sum over replicas is right). Gauges of shared state (open
executions, queue depth, workers seen) are read from the store on each scrape
(``store/ops.py``): every replica reports the same value, so aggregate them with
``max`` rather than ``sum`` (docs/operations.md).

Label values that come from users (agent, tool and model names) are bounded by
``Bounded``: past ``MAX_LABEL_VALUES`` distinct values a label reads ``_other``, so a
caller minting names cannot grow the scrape without bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from agentspan.protocol.api import TERMINAL_STATUSES
from agentspan.server.observers import (
    LlmCallFinished,
    Notification,
    StepCommitted,
    TaskClaimed,
    TaskFinished,
)
from agentspan.server.store.ops import OpenExecutions, OpsReads

MAX_LABEL_VALUES = 500
"""Distinct values one user-named label (agent, tool, model) may take in one process."""
OTHER = "_other"
WORKER_WINDOW_SECONDS = 60.0
"""A worker counts as seen when it polled within this window."""
_MAX_OPEN_CLAIMS = 10_000
"""Tool claims remembered for their latency; the oldest are forgotten past this."""
_SERVER_KINDS = frozenset({"llm", "timer"})
"""Task kinds that are not tool calls (model calls are timed by their own metric)."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Bounded:
    """Admits at most ``limit`` distinct label values; later new ones become ``_other``."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


class Metrics:
    """The server's metrics, in a registry of its own (one per app, so tests and several
    apps in one process never share counters)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.agent = Bounded()
        self.tool = Bounded()
        self.model = Bounded()
        self.started = Counter(
            "agentspan_executions_started", "Executions started (sub-agents included).", ["agent"], registry=r
        )
        self.finished = Counter(
            "agentspan_executions_finished",
            "Executions that ended, by final status.",
            ["agent", "status"],
            registry=r,
        )
        self.steps = Counter(
            "agentspan_steps", "Engine steps committed, by input kind.", ["input"], registry=r
        )
        self.model_calls = Counter(
            "agentspan_model_calls", "Model replies recorded.", ["provider", "model"], registry=r
        )
        self.model_errors = Counter(
            "agentspan_model_errors",
            "Model calls that failed for good (after retries), by agent.",
            ["agent"],
            registry=r,
        )
        self.model_latency = Histogram(
            "agentspan_model_call_duration_seconds",
            "Latency of recorded model calls.",
            ["provider", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "agentspan_tokens", "Tokens used, by model and direction.", ["model", "type"], registry=r
        )
        self.cost = Counter(
            "agentspan_cost_usd", "Estimated spend in US dollars, by model.", ["model"], registry=r
        )
        self.tool_calls = Counter(
            "agentspan_tool_calls",
            "Tool tasks finished, by tool and outcome.",
            ["tool", "kind", "outcome"],
            registry=r,
        )
        self.tool_latency = Histogram(
            "agentspan_tool_call_duration_seconds",
            "Time from a tool task's claim to its result (claim and result seen by this process).",
            ["tool", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.leases_lost = Counter(
            "agentspan_leases_lost", "Leases found expired, by task kind.", ["kind"], registry=r
        )
        self.retries = Counter(
            "agentspan_task_retries",
            "Tasks claimed again (a retry or after a lost lease).",
            ["kind"],
            registry=r,
        )
        self.http_latency = Histogram(
            "agentspan_http_request_duration_seconds",
            "HTTP requests by route template, method and status (streams: until the stream ends).",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.sse_subscribers = Gauge(
            "agentspan_sse_subscribers", "Event streams open on this process.", registry=r
        )
        self.observer_dropped = Gauge(
            "agentspan_observer_dropped",
            "Notifications observers of this process dropped (queue full), and committed steps "
            "its span exporter process could not take.",
            registry=r,
        )
        self.open_executions = Gauge(
            "agentspan_executions_open",
            "Executions not ended, by status (shared state).",
            ["status"],
            registry=r,
        )
        self.waiting = Gauge(
            "agentspan_executions_waiting",
            "Open executions by what they wait for (shared state; an execution may count in several).",
            ["reason"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "agentspan_queue_depth",
            "Tasks queued, by kind, task name and status (shared state).",
            ["kind", "task", "status"],
            registry=r,
        )
        self.workers_seen = Gauge(
            "agentspan_workers_seen",
            f"Workers that polled within {WORKER_WINDOW_SECONDS:.0f} s (shared state).",
            registry=r,
        )
        self.scrape_errors = Counter(
            "agentspan_scrape_errors", "Scrapes whose shared-state reads failed.", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def refresh_shared(self, store: OpsReads, dropped: int) -> None:
        """Read the shared state into its gauges (before rendering a scrape)."""
        self.observer_dropped.set(dropped)
        try:
            queue = await store.queue_counts()
            open_ = await store.open_executions()
            workers = await store.workers_seen(time.time() - WORKER_WINDOW_SECONDS)
        except Exception:  # noqa: BLE001 - a scrape reports its own failure as a metric
            self.scrape_errors.inc()
            return
        self.queue_depth.clear()
        for q in queue:
            status = "stalled" if q.stalled else q.status
            self.queue_depth.labels(q.kind, q.name, status).inc(q.count)
        self._set_open(open_)
        self.workers_seen.set(workers)

    def _set_open(self, open_: OpenExecutions) -> None:
        self.open_executions.clear()
        for status, count in open_.by_status.items():
            self.open_executions.labels(status).set(count)
        waiting: dict[str, int] = {"paused": open_.by_status.get("PAUSED", 0)}
        for (kind, stalled), count in open_.with_tasks.items():
            reason = "no_worker" if stalled else ("model" if kind == "llm" else kind)
            waiting[reason] = waiting.get(reason, 0) + count
        self.waiting.clear()
        for reason, count in waiting.items():
            self.waiting.labels(reason).set(count)


class MetricsObserver:
    """Counts committed work (an ``InlineObserver``: called in a batch after commit)."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics
        self._claims: OrderedDict[str, float] = OrderedDict()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _at(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: ``labels()`` validates and locks on every
        call, and the same few series are hit several times per turn. Bounded, as the label
        values are (``Bounded``)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_now(self, note: Notification) -> None:
        if isinstance(note, StepCommitted):
            self._step(note)
        elif isinstance(note, LlmCallFinished):
            self._llm(note)
        elif isinstance(note, TaskClaimed):
            self._claimed(note)
        elif isinstance(note, TaskFinished):
            self._finished(note)

    def _step(self, note: StepCommitted) -> None:
        m = self.m
        self._at(m.steps, note.input_kind).inc()
        agent = m.agent(note.agent_name)
        if note.input_kind in ("start", "fork"):  # a fork is an execution started too
            self._at(m.started, agent).inc()
        if note.status_after in TERMINAL_STATUSES and note.status_before not in TERMINAL_STATUSES:
            self._at(m.finished, agent, note.status_after).inc()
        if note.input_kind == "llm_failed":
            self._at(m.model_errors, agent).inc()

    def _llm(self, note: LlmCallFinished) -> None:
        m = self.m
        model = m.model(note.model)
        provider = model.split("/", 1)[0] if "/" in model else ""
        self._at(m.model_calls, provider, model).inc()
        self._at(m.model_latency, provider, model).observe(note.latency_ms / 1000)
        self._at(m.tokens, model, "input").inc(note.prompt_tokens)
        self._at(m.tokens, model, "output").inc(note.completion_tokens)
        if note.cost_usd:
            self._at(m.cost, model).inc(note.cost_usd)

    def _claimed(self, note: TaskClaimed) -> None:
        if note.attempt > 1:
            self._at(self.m.retries, note.kind).inc()
        if note.kind in _SERVER_KINDS:
            return
        self._claims[note.task_id] = time.monotonic()
        if len(self._claims) > _MAX_OPEN_CLAIMS:
            self._claims.popitem(last=False)

    def _finished(self, note: TaskFinished) -> None:
        m = self.m
        if note.outcome == "lease_lost":
            self._at(m.leases_lost, note.kind).inc()
        if note.kind in _SERVER_KINDS:
            return
        tool = m.tool(note.name)
        self._at(m.tool_calls, tool, note.kind, note.outcome).inc()
        claimed = self._claims.pop(note.task_id, None)
        if claimed is not None:
            self._at(m.tool_latency, tool, note.outcome).observe(time.monotonic() - claimed)
