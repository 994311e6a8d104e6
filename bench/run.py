"""``make bench``: run every figure, save the raw results, regenerate docs/benchmarks.md.

    bench/.venv/bin/python bench/run.py            # the default run (about 17 minutes, 2 cores)
    BENCH_FULL=1 bench/.venv/bin/python bench/run.py   # the long version
    bench/.venv/bin/python bench/run.py --only overhead,recovery   # some figures only
    bench/.venv/bin/python bench/run.py --report-only  # re-render the doc from results.json

Agentspan is measured from this process (the client) against real server and worker
processes; each baseline runs in a subprocess of its own (``baselines.py``). A
measurement that fails is recorded with its error and the run goes on: the doc then says
what is missing and why, and never shows a number that was not measured.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import history as history_figure
import observability as observability_figure
import ours
import report
import streaming as streaming_figure
from _common import BENCH, ROOT, full_mode, machine_info, pg_unavailable, run_measurement

LOG = BENCH / ".last-run.log"
FIGURES = (
    "overhead",
    "observability",
    "throughput",
    "waiting",
    "recovery",
    "streaming",
    "history",
    "profile",
)


@dataclass
class Plan:
    """How much of everything to run. The defaults fit in about 17 minutes on 2 cores."""

    overhead_warmup: int = 30
    overhead_reps: int = 5
    ours_turns: int = 100
    ours_pg_turns: int = 60
    baseline_turns: int = 200
    inprocess_turns: int = 20_000
    tp_seconds: float = 2.0
    tp_reps: int = 3
    tp_workers: list[int] = field(default_factory=lambda: [1, 2])
    tp_concurrency_sqlite: list[int] = field(default_factory=lambda: [1, 10, 100, 1000])
    tp_concurrency_pg: list[int] = field(default_factory=lambda: [1, 10, 100])
    tp_concurrency_baselines: list[int] = field(default_factory=lambda: [1, 10, 100])
    waiting_counts: list[int] = field(default_factory=lambda: [0, 1000, 10_000])
    waiting_counts_langgraph: list[int] = field(default_factory=lambda: [0, 1000, 10_000])
    waiting_counts_dbos: list[int] = field(default_factory=lambda: [0, 1000])
    recovery_n: int = 200
    recovery_tool_seconds: float = 1.0
    recovery_threads: int = 100
    profile_turns: int = 300
    stream_subscribers: list[int] = field(default_factory=lambda: [1, 100, 1000])
    stream_events: int = 20
    history_lengths: list[int] = field(default_factory=lambda: [10, 100, 1000])
    history_min_rounds: int = 100
    observability_rounds: int = 4

    @classmethod
    def for_mode(cls, quick: bool = False) -> Plan:
        plan = cls()
        if quick:  # a smoke test of the suite itself; its numbers mean nothing
            return cls(
                overhead_warmup=5,
                overhead_reps=2,
                ours_turns=10,
                ours_pg_turns=10,
                baseline_turns=10,
                inprocess_turns=100,
                tp_seconds=1.0,
                tp_reps=2,
                tp_workers=[1],
                tp_concurrency_sqlite=[1, 10],
                tp_concurrency_pg=[10],
                tp_concurrency_baselines=[10],
                waiting_counts=[0, 100],
                waiting_counts_langgraph=[0, 100],
                waiting_counts_dbos=[0, 20],
                recovery_n=20,
                recovery_threads=10,
                profile_turns=20,
                stream_subscribers=[1, 10],
                stream_events=3,
                history_lengths=[10, 100],
                history_min_rounds=20,
                observability_rounds=1,
            )
        if full_mode():
            plan.overhead_reps = 10
            plan.tp_seconds, plan.tp_reps = 3.0, 5
            plan.tp_workers = [1, 2, 4]
            plan.tp_concurrency_pg = [1, 10, 100, 1000]
            plan.tp_concurrency_baselines = [1, 10, 100, 1000]
            plan.waiting_counts = [0, 1000, 10_000, 100_000]
            plan.waiting_counts_dbos = [0, 1000, 10_000]
            plan.recovery_n = 1000
            plan.stream_subscribers = [1, 10, 100, 1000, 2000]
            plan.stream_events = 30
            plan.history_lengths = [10, 100, 1000, 5000]
            plan.history_min_rounds = 300
        return plan


def package_versions() -> dict[str, str]:
    found = {}
    for name in (
        "agentspan",
        "langgraph",
        "langgraph-checkpoint-sqlite",
        "langgraph-checkpoint-postgres",
        "dbos",
        "psycopg",
        "asyncpg",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


class Runner:
    def __init__(self, plan: Plan, only: set[str], docs: Path) -> None:
        self.plan = plan
        self.docs = docs
        self.only = only
        self.results: dict[str, Any] = {
            "machine": machine_info(),
            "commit": report.commit(),
            "plan": {**asdict(plan), "recovery_lease_seconds": ours.RECOVERY_LEASE_SECONDS},
            "versions": package_versions(),
            "full": full_mode(),
            "missing": {},
            "overhead": {},
            "throughput": {},
            "waiting": {},
            "recovery": {},
            "profile": {},
            "streaming": {},
            "history": {},
            "observability": {},
        }
        self.pg_reason = pg_unavailable()
        self.backends = ["sqlite"] if self.pg_reason else ["sqlite", "postgres"]
        if self.pg_reason:
            self.results["missing"]["postgres"] = self.pg_reason
        self.baselines = self._available_baselines()

    def _available_baselines(self) -> list[str]:
        found = []
        for system, module in (("langgraph", "langgraph.checkpoint.sqlite"), ("dbos", "dbos")):
            try:
                present = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:
                present = False
            if present:
                found.append(system)
            else:
                self.results["missing"][system] = f"{module} is not installed in bench/.venv"
        return found

    def step(self, figure: str, key: str, measure: Callable[[], Any]) -> None:
        """Run one measurement; a failure is recorded as ``{"error": ...}``, never raised."""
        started = time.monotonic()
        print(f"[{time.strftime('%H:%M:%S')}] {figure}: {key} ...", flush=True)
        try:
            value = measure()
        except Exception as exc:  # noqa: BLE001 - recorded in the doc, the run goes on
            traceback.print_exc()
            value = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        if isinstance(value, dict) and "error" in value:
            print(f"    failed: {value['error']}", flush=True)
        print(f"    {time.monotonic() - started:.1f}s", flush=True)
        self.results[figure][key] = value

    def baseline(self, args: list[str], timeout: float = 600) -> Callable[[], dict[str, Any]]:
        return partial(run_measurement, ["bench/baselines.py", *args], timeout, LOG)

    def wanted(self, figure: str) -> bool:
        return not self.only or figure in self.only

    # --- figures ----------------------------------------------------------------------------

    def overhead(self) -> None:
        p = self.plan
        reps = ["--warmup", str(p.overhead_warmup), "--reps", str(p.overhead_reps)]
        self.step(
            "overhead",
            "inprocess",
            self.baseline(["overhead", "inprocess", "none", *reps, "--turns", str(p.inprocess_turns)]),
        )
        for backend in self.backends:
            turns = p.ours_turns if backend == "sqlite" else p.ours_pg_turns
            self.step(
                "overhead",
                f"agentspan/{backend}",
                partial(ours.overhead, backend, p.overhead_warmup, p.overhead_reps, turns),
            )
        # The same durability as the baselines' SQLite stores (fsync at every commit).
        self.step(
            "overhead",
            "agentspan/sqlite-full",
            partial(
                ours.overhead,
                "sqlite",
                p.overhead_warmup,
                p.overhead_reps,
                p.ours_turns,
                env={"AGENTSPAN_SQLITE_SYNCHRONOUS": "FULL"},
            ),
        )
        for system in self.baselines:
            for backend in self.backends:
                args = ["overhead", system, backend, *reps, "--turns", str(p.baseline_turns)]
                self.step("overhead", f"{system}/{backend}", self.baseline(args))

    def observability(self) -> None:
        """The durable turn with metrics, logs and tracing on and off, interleaved (issue 16:
        the observers must cost < 5 % of it)."""
        p = self.plan
        for backend in self.backends:
            turns = p.ours_turns if backend == "sqlite" else p.ours_pg_turns
            self.step(
                "observability",
                f"agentspan/{backend}",
                partial(
                    observability_figure.compare, backend, p.observability_rounds, p.overhead_warmup, turns
                ),
            )

    def profile(self) -> None:
        out = self.docs / "benchmarks"
        for backend in self.backends:
            self.step(
                "profile",
                f"agentspan/{backend}",
                partial(ours.profile, backend, self.plan.profile_turns, out / backend),
            )

    def throughput(self) -> None:
        p = self.plan
        for backend in self.backends:
            levels = p.tp_concurrency_sqlite if backend == "sqlite" else p.tp_concurrency_pg
            for workers in p.tp_workers:
                self.step(
                    "throughput",
                    f"agentspan/{backend}/w{workers}",
                    partial(ours.throughput, backend, workers, levels, p.tp_seconds, p.tp_reps),
                )
        self.step("throughput", "inprocess", partial(self.baseline_throughput, "inprocess", "none", [1]))
        for system in self.baselines:
            for backend in self.backends:
                self.step(
                    "throughput",
                    f"{system}/{backend}",
                    partial(self.baseline_throughput, system, backend, p.tp_concurrency_baselines),
                )

    def baseline_throughput(self, system: str, store: str, levels: list[int]) -> dict[int, Any]:
        window = ["--seconds", str(self.plan.tp_seconds), "--reps", str(self.plan.tp_reps)]
        return {
            c: run_measurement(
                ["bench/baselines.py", "throughput", system, store, "--concurrency", str(c), *window],
                600,
                LOG,
            )
            for c in levels
        }

    def waiting(self) -> None:
        p = self.plan
        for backend in self.backends:
            self.step("waiting", f"agentspan/{backend}", partial(ours.waiting, backend, p.waiting_counts))
        counts = {"langgraph": p.waiting_counts_langgraph, "dbos": p.waiting_counts_dbos}
        for system in self.baselines:
            args = ["waiting", system, "sqlite", "--counts", ",".join(map(str, counts[system]))]
            self.step("waiting", f"{system}/sqlite", self.baseline(args, timeout=900))

    def recovery(self) -> None:
        p = self.plan
        sizes = (p.recovery_n, p.recovery_tool_seconds, p.recovery_threads)
        for backend in self.backends:
            self.step(
                "recovery",
                f"agentspan/{backend}/worker_kill",
                partial(ours.recover_worker_kill, backend, *sizes),
            )
            self.step(
                "recovery",
                f"agentspan/{backend}/server_restart",
                partial(ours.recover_server_restart, backend, *sizes),
            )

    def streaming(self) -> None:
        p = self.plan
        for backend in self.backends:
            self.step(
                "streaming",
                f"agentspan/{backend}",
                partial(streaming_figure.streaming, backend, p.stream_subscribers, p.stream_events),
            )

    def history(self) -> None:
        p = self.plan
        for backend in self.backends:
            self.step(
                "history",
                f"agentspan/{backend}",
                partial(history_figure.history, backend, p.history_lengths, p.history_min_rounds),
            )

    def run(self) -> dict[str, Any]:
        seconds = self.results["figure_seconds"] = {}
        for figure in FIGURES:
            if self.wanted(figure):
                started = time.monotonic()
                getattr(self, figure)()
                seconds[figure] = time.monotonic() - started
        self.results["duration_s"] = sum(seconds.values())
        self.results["machine"]["load_after"] = list(os.getloadavg())
        return self.results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help=f"comma-separated figures out of {', '.join(FIGURES)}")
    parser.add_argument(
        "--report-only", action="store_true", help="re-render benchmarks.md from benchmarks/results.json"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check the suite runs (written to bench/.quick)"
    )
    parser.add_argument("--out", type=Path, help="where benchmarks.md and benchmarks/ go (default: docs/)")
    args = parser.parse_args()
    docs = args.out or (BENCH / ".quick" if args.quick else ROOT / "docs")
    results_path = docs / "benchmarks" / "results.json"
    if args.report_only:
        results = json.loads(results_path.read_text())
    else:
        only = {f for f in args.only.split(",") if f}
        unknown = only - set(FIGURES)
        if unknown:
            sys.exit(f"unknown figures: {', '.join(sorted(unknown))}")
        with contextlib.suppress(FileNotFoundError):
            LOG.unlink()
        results = Runner(Plan.for_mode(args.quick), only, docs).run()
        if only and results_path.exists():  # keep the other figures of the last run
            previous = json.loads(results_path.read_text())
            earlier = previous.get("earlier_figures") or {}
            for figure in FIGURES:
                if figure not in only:
                    results[figure] = previous.get(figure, {})
                    if results[figure]:  # say which run it came from
                        results.setdefault("earlier_figures", {})[figure] = earlier.get(figure) or {
                            "date": previous["machine"]["date"],
                            "commit": previous.get("commit", "unknown"),
                        }
                    if figure in previous.get("figure_seconds", {}):
                        results["figure_seconds"][figure] = previous["figure_seconds"][figure]
            results["duration_s"] = sum(results["figure_seconds"].values())
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    report.write(results, docs)
    print(f"wrote {docs / 'benchmarks.md'} ({results.get('duration_s', 0):.0f}s of measurements)")


if __name__ == "__main__":
    main()
