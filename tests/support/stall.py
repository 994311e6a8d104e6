"""An agent with thousands of worker tools and no worker, and a probe timing ``/health``.

Shared by the fairness regression tests and ``bench/health_under_stall.py``: the offline
model calls every offered tool at once, so one start queues one worker task per tool, and
with no worker polling the no-worker watchdog has to report every one of them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

STALL_ENV = {
    "AGENTSPAN_NO_WORKER_TIMEOUT": "3",
    # Another change caps tools per agent (default 1000); these agents need more.
    "AGENTSPAN_MAX_TOOLS_PER_AGENT": "20000",
    # ... and the model's one reply must be allowed to call every one of them at once.
    "AGENTSPAN_MAX_PARALLEL_TOOL_CALLS": "20000",
}
"""Environment for a server the many-tools agent can stall: the watchdog reports after 3 s
(time enough to kill the server between the dispatch and the report)."""


def many_tools_agent(count: int, name: str = "many_tools") -> dict[str, Any]:
    tools = [
        {
            "name": f"tool_{i}",
            "description": f"Tool number {i}.",
            "inputSchema": {"type": "object", "properties": {}},
            "toolType": "worker",
        }
        for i in range(count)
    ]
    return {"name": name, "model": "offline/basic", "tools": tools}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@dataclass
class Latencies:
    samples: list[float]
    """Seconds per ``/health`` request, in order."""
    failures: int

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    @property
    def max(self) -> float:
        return max(self.samples, default=math.nan)

    def line(self) -> str:
        return (
            f"n={len(self.samples)} p50={self.p50 * 1000:.1f} ms p99={self.p99 * 1000:.1f} ms "
            f"max={self.max * 1000:.1f} ms failures={self.failures}"
        )


class HealthProbe:
    """Times ``GET /health`` back to back (one connection, ``interval`` apart) in a thread.

    A request the server does not answer within ``timeout`` counts as a failure and as a
    sample of ``timeout`` seconds, so a stalled server cannot look fast by timing out.
    """

    def __init__(self, root_url: str, interval: float = 0.01, timeout: float = 30.0) -> None:
        self.root_url = root_url
        self.interval = interval
        self.timeout = timeout
        self._samples: list[float] = []
        self._failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                began = time.perf_counter()
                try:
                    ok = client.get(self.root_url + "/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - began
                self._samples.append(took)
                if not ok:
                    self._failures += 1
                self._stop.wait(self.interval)

    def stop(self) -> Latencies:
        self._stop.set()
        self._thread.join(self.timeout + 5)
        return Latencies(list(self._samples), self._failures)


def wait_for_tasks(root_url: str, execution_id: str, timeout: float = 120.0) -> float:
    """Wait until the execution dispatched its tool calls (it waits for workers); return
    how long that took."""
    began = time.monotonic()
    deadline = began + timeout
    with httpx.Client(timeout=timeout) as client:
        while time.monotonic() < deadline:
            url = f"{root_url}/api/agent/executions/{execution_id}/events?limit=20"
            if any(e.get("type") == "tool_call" for e in client.get(url).json()):
                return time.monotonic() - began
            time.sleep(0.1)
    raise TimeoutError(f"execution {execution_id} dispatched no tool call within {timeout} s")
