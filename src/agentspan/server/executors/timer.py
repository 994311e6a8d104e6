"""The deadline timer: a ``timer`` task falls due at an execution's deadline and tells
the engine that time is up (the engine ignores it if the execution ended meanwhile)."""

from __future__ import annotations

from agentspan.server.engine.model import ExecState, Input, TimedOut
from agentspan.server.executors.base import ExecutorContext, Job


class TimerExecutor:
    kind = "timer"
    lease_seconds = 60.0
    concurrency = 100
    reruns_lost_leases = True  # firing is recording TimedOut; a lost firing just fires again

    async def run(self, job: Job, ctx: ExecutorContext) -> Input | None:
        return TimedOut()

    def recorded(self, job: Job, result: Input, state: ExecState | None) -> None:
        """Nothing to do once the deadline is recorded."""
