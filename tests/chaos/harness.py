"""Fault-injection harness: real servers and workers, killed on purpose, then audited.

The pieces, in the order a scenario uses them:

* ``scenarios.py``: the side-effect ledger, the tools that write to it (and stop at a
  named boundary on request) and the scripted agents; a worker process serves those tools.
* ``Cluster``: server processes (one on SQLite, or replicas on one PostgreSQL database),
  worker processes (this file run as a script), starting executions with fail-over
  between replicas (idempotency keys make a retried start safe), and reads that go to
  whichever replica is up.
* ``settle``: wait until every execution is terminal, answering the waits a scenario
  expects (approvals, "outcome unknown" after a lost lease); ``audit``: the invariants
  of ARCHITECTURE.md §4 over every execution and the ledger.
* ``ScenarioRecord``: one JSON line per scenario run appended to ``$CHAOS_RESULTS``
  (read by ``chaos_report.py`` to write the table in docs/reliability.md).

Scale and randomness: ``CHAOS_FULL=1`` selects the long versions; ``CHAOS_SEED`` fixes the
seed every random fault schedule is drawn from (it is printed, so a failure can be replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
from scenarios import (
    LEDGER_TOOLS,
    Launch,
    Ledger,
    LedgerSnapshot,
    Run,
    parse_result,
    serving_agent,
    shape_agent,
    shape_turns,
)

from agentspan.agents import AgentConfig, AgentRuntime
from agentspan.agents._errors import AgentAPIError, AgentspanError
from agentspan.agents.testing import ScriptedModel
from agentspan.client._http import ApiClient
from agentspan.protocol.api import TERMINAL_STATUSES

if TYPE_CHECKING:
    from support.servers import ServerProcess

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
FAST_ENV = {
    "AGENTSPAN_WORKER_LEASE_SECONDS": "1",
    "AGENTSPAN_LLM_LEASE_SECONDS": "1",
}
"""Short leases, so a dead worker or replica is noticed within about a second."""
LEASE_SECONDS = 1.0


# --- configuration ------------------------------------------------------------------------


def full_mode() -> bool:
    return os.environ.get("CHAOS_FULL", "") == "1"


def scale(short: int, full: int, env: str | None = None) -> int:
    """``short`` normally, ``full`` with CHAOS_FULL=1; ``env`` (a variable name) overrides both."""
    raw = os.environ.get(env, "").strip() if env else ""
    if raw:
        return int(raw)
    return full if full_mode() else short


_seed_shown: list[int] = []


def chaos_seed() -> int:
    """The session's seed: ``CHAOS_SEED`` if set, else drawn once and exported (and printed)."""
    raw = os.environ.get("CHAOS_SEED", "").strip()
    if not raw:
        raw = str(random.SystemRandom().randrange(1, 2**31))
        os.environ["CHAOS_SEED"] = raw
    if not _seed_shown:
        _seed_shown.append(int(raw))
        print(f"CHAOS_SEED={raw} (set it to replay this fault schedule)")
    return int(raw)


def rng_for(scenario: str) -> random.Random:
    """A random stream per scenario, fixed by the seed and the scenario's name."""
    return random.Random(f"{chaos_seed()}:{scenario}")


def pg_base_url() -> str:
    return os.environ.get("AGENTSPAN_TEST_DATABASE_URL", "").strip()


# --- processes ----------------------------------------------------------------------------


class WorkerProcess:
    """This file run as ``python harness.py worker``: serves the ledger tools until killed."""

    def __init__(self, server_url: str, env: dict[str, str], log_path: Path) -> None:
        self.server_url = server_url
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        pythonpath = os.pathsep.join(p for p in [str(TESTS), os.environ.get("PYTHONPATH", "")] if p)
        env = {**os.environ, **self.env, "AGENTSPAN_SERVER_URL": self.server_url, "PYTHONPATH": pythonpath}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / "harness.py"), "worker"], env=env, stdout=log, stderr=log
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process must die too
            self.proc.kill()
            self.proc.wait(15)


def _wait_healthy(root_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(root_url + "/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"no server at {root_url}")


def _instrument_reports(ledger: Ledger) -> None:
    """Record how the server answers each completion this worker sends (204, 409, ...)."""
    original = ApiClient.complete

    async def complete(
        self: ApiClient, task_id: str, lease_id: str, output: Any, state_updates: dict[str, Any] | None
    ) -> None:
        try:
            await original(self, task_id, lease_id, output, state_updates)
        except AgentAPIError as exc:
            ledger.record_report(task_id, exc.status_code, exc.code or "")
            raise
        ledger.record_report(task_id, 204, "")

    ApiClient.complete = complete  # type: ignore[method-assign]


def serve_worker() -> None:
    """The worker process's main: wait for the server, then serve until SIGTERM/SIGKILL."""
    _instrument_reports(Ledger(Path(os.environ["CHAOS_LEDGER"])))
    config = AgentConfig.from_env()
    config.auto_start_server = False
    _wait_healthy(config.root_url, 120)
    with AgentRuntime(config=config) as runtime:
        runtime.serve(serving_agent())


def _server_process(data_dir: Path, env: dict[str, str], port: int | None = None) -> ServerProcess:
    # Imported here: worker processes load this module too, and need no server code.
    from support.servers import ServerProcess

    return ServerProcess(data_dir, env=env, port=port)


class Cluster:
    """Server processes on one store, worker processes, and fail-over HTTP access to them."""

    def __init__(self, root: Path, *, replicas: int = 1, database_url: str | None = None) -> None:
        self.root = root
        self.database_url = database_url
        self.backend = "postgres" if database_url else "sqlite"
        self.control = root / "control"
        self.control.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(root / "ledger.db").create()
        env = dict(FAST_ENV)
        if database_url:
            env["AGENTSPAN_DATABASE_URL"] = database_url
        # SQLite: every restart reopens one data dir. PostgreSQL: a data dir per replica.
        self.servers = [
            _server_process(root / (f"replica-{i}" if database_url else "server"), env)
            for i in range(replicas)
        ]
        self.workers: list[WorkerProcess] = []
        self._locks = [threading.Lock() for _ in range(replicas)]  # one restart at a time per replica
        self._runtimes: dict[int, AgentRuntime] = {}
        self._http = httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0))

    # --- servers ----------------------------------------------------------------------

    def start(self) -> Cluster:
        with ThreadPoolExecutor(len(self.servers)) as pool:
            list(pool.map(lambda s: s.start(), self.servers))
        return self

    def api_url(self, index: int) -> str:
        return self.servers[index].api_url

    def up(self, index: int) -> bool:
        proc = self.servers[index].proc
        return proc is not None and proc.poll() is None

    def kill_server(self, index: int) -> None:
        with self._locks[index]:
            self.servers[index].kill()

    def restart_server(self, index: int) -> None:
        with self._locks[index]:
            old = self.servers[index]
            old.kill()
            self.servers[index] = _server_process(old.data_dir, old.env, old.port).start()

    def restart_servers(self, indexes: list[int]) -> None:
        """Bring several replicas back at once (as after a full outage)."""
        with ThreadPoolExecutor(len(indexes)) as pool:
            list(pool.map(self.restart_server, indexes))

    def heal(self) -> None:
        """Every server up, every worker running and not stopped."""
        for index in range(len(self.servers)):
            if not self.up(index):
                self.restart_server(index)
        for index, worker in enumerate(self.workers):
            if worker.alive:
                worker.send(signal.SIGCONT)
            else:
                self.replace_worker(index)

    # --- workers ----------------------------------------------------------------------

    def add_worker(
        self, replica: int = 0, *, hold: str = "", work: str = "", threads: int = 32
    ) -> WorkerProcess:
        """A worker polling replica ``replica``. A holding worker should get exactly as many
        ``threads`` as calls it will hold: with every slot busy it has no poll in flight,
        so it cannot be handed a re-queued call while it is frozen or dying."""
        env = {
            "CHAOS_LEDGER": str(self.ledger.path),
            "CHAOS_CONTROL": str(self.control),
            "CHAOS_HOLD": hold,
            "CHAOS_WORK": work,
            "AGENTSPAN_WORKER_THREADS": str(threads),
            "AGENTSPAN_LOG_LEVEL": "WARNING",
        }
        n = len(self.workers)
        worker = WorkerProcess(self.api_url(replica), env, self.root / f"worker-{n}.log").start()
        self.workers.append(worker)
        return worker

    def replace_worker(self, index: int) -> WorkerProcess:
        """SIGKILL worker ``index`` and start a fresh process with the same settings."""
        old = self.workers[index]
        old.kill()
        self.workers[index] = WorkerProcess(old.server_url, old.env, old.log_path).start()
        return self.workers[index]

    def held(self, phase: str) -> dict[str, int]:
        """The calls held at ``phase`` so far: idempotency key -> worker pid."""
        held = {}
        for marker in self.control.glob(f"held-{phase}-*"):
            _, _, pid, key = marker.name.split("-", 3)
            held[key] = int(pid)
        return held

    def release(self) -> None:
        (self.control / "release").touch()

    # --- executions -------------------------------------------------------------------

    def _runtime(self, index: int) -> AgentRuntime:
        runtime = self._runtimes.get(index)
        if runtime is None:
            config = AgentConfig(
                server_url=self.api_url(index), auto_start_server=False, auto_start_workers=False
            )
            runtime = self._runtimes[index] = AgentRuntime(config=config)
        return runtime

    def start_execution(self, shape: str, key: str, *, prefer: int = 0, approve: bool = True) -> Launch:
        """Start one run, on replica ``prefer`` or any other that answers (the key de-duplicates)."""
        agent = shape_agent(shape)
        turns = ScriptedModel(shape_turns(shape)).scripted_turns
        deadline = time.monotonic() + 60
        while True:
            for offset in range(len(self.servers)):
                index = (prefer + offset) % len(self.servers)
                if not self.up(index):
                    continue
                try:
                    handle = self._runtime(index).start(agent, f"run {key}", idempotency_key=key)
                except AgentspanError as exc:
                    status = exc.status_code if isinstance(exc, AgentAPIError) else 0
                    if status and status < 500:
                        raise
                    continue
                return Launch(handle.execution_id, shape, turns, approve=approve)
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not start {key}: no replica answered")
            time.sleep(0.1)

    # --- fail-over HTTP ---------------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> httpx.Response:
        """Send to the first replica that answers without a transport error or a 5xx."""
        deadline = time.monotonic() + 30
        while True:
            for index in range(len(self.servers)):
                if not self.up(index):
                    continue
                url = self.api_url(index) + path
                try:
                    response = self._http.request(method, url, params=params, json=body)
                except httpx.HTTPError:
                    continue
                if response.status_code < 500:
                    return response
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {path}: no replica answered")
            time.sleep(0.1)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self.request("GET", path, params=params)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        for runtime in self._runtimes.values():
            with contextlib.suppress(Exception):
                runtime.shutdown()
        for worker in self.workers:
            worker.kill()
        for server in self.servers:
            server.kill()
        self._http.close()


# --- waiting ------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class SettleStats:
    waits_seen: Counter[str] = field(default_factory=Counter)
    """Explicit waits answered, by kind (``approval``, ``outcome_unknown``)."""
    answered: int = 0


def _root_summaries(cluster: Cluster) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = cluster.get_json("/agent/executions", {"size": 1000, "start": len(rows)})
        rows.extend(page["results"])
        if not page["results"] or len(rows) >= page["totalHits"]:
            return rows


def _answer_wait(cluster: Cluster, launch: Launch, stats: SettleStats) -> None:
    status = cluster.get_json(f"/agent/{launch.execution_id}/status")
    if status.get("isComplete") or not status.get("isWaiting"):
        return
    pending = status.get("pendingTool") or {}
    kind = str(pending.get("kind", "approval"))
    approved = True if kind == "outcome_unknown" else launch.approve
    body = {"approved": approved, "reason": "chaos harness", "taskRefName": pending.get("taskRefName")}
    response = cluster.request("POST", f"/agent/{launch.execution_id}/respond", body=body)
    if response.status_code == 200:
        stats.waits_seen[kind] += 1
        stats.answered += 1


def settle(
    cluster: Cluster, launches: list[Launch], timeout: float, *, answer_waits: bool = True
) -> SettleStats:
    """Wait until every launch is terminal (or the timeout passes), answering explicit waits."""
    by_id = {launch.execution_id: launch for launch in launches}
    stats = SettleStats()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [r for r in _root_summaries(cluster) if r["executionId"] in by_id]
        open_rows = [r for r in rows if r["status"] not in TERMINAL_STATUSES]
        if len(rows) == len(by_id) and not open_rows:
            break
        for row in open_rows:
            if answer_waits and row.get("waitingReason"):
                _answer_wait(cluster, by_id[row["executionId"]], stats)
        time.sleep(0.15)
    return stats


# --- the invariants -----------------------------------------------------------------------


@dataclass
class Tally:
    executions: int = 0
    tool_calls: int = 0
    """Completed calls of the ledger tools."""
    tool_runs: int = 0
    """Times a ledger tool body started (every attempt, killed or not)."""
    effects: int = 0
    """Side effects in the ledger that belong to completed calls."""
    llm_calls: int = 0
    violations: list[str] = field(default_factory=list)


def _check_status(launch: Launch, status: dict[str, Any]) -> list[str]:
    eid = launch.execution_id
    if status.get("isComplete"):
        if status.get("status") != launch.expect_status:
            why = f" ({status['reasonForIncompletion']})" if status.get("reasonForIncompletion") else ""
            return [f"{eid}: ended {status.get('status')}{why}, expected {launch.expect_status}"]
        return []
    if status.get("isWaiting") and status.get("waitingReason"):
        return [f"{eid}: still waiting at the end ({status['waitingReason']})"]
    return [f"{eid}: {status.get('status')}, not terminal and not explicitly waiting (pending forever)"]


def _check_events(eid: str, events: list[dict[str, Any]], status: str) -> list[str]:
    problems = []
    ids = [int(e.get("id") or 0) for e in events]
    if ids != list(range(1, len(ids) + 1)):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        problems.append(f"{eid}: event ids are not 1..{len(ids)} (duplicated: {dupes[:5]})")
    per_call: Counter[tuple[str, str]] = Counter()
    for event in events:
        if event.get("callId"):
            per_call[(event["type"], event["callId"])] += 1
    for (kind, call_id), count in sorted(per_call.items()):
        if kind in ("tool_call", "tool_result") and count > 1:
            problems.append(f"{eid}: {kind} of {call_id} recorded {count} times")
        if kind == "approval" and count > per_call[("waiting", call_id)]:
            problems.append(f"{eid}: {count} decisions on {call_id} for fewer waits")
    done = [e["type"] for e in events].count("done")
    if done > 1 or (status == "COMPLETED" and (done != 1 or events[-1]["type"] != "done")):
        problems.append(f"{eid}: {done} done events (the last event is {events[-1]['type']!r})")
    return problems


def _turn_of(message: dict[str, Any]) -> dict[str, Any]:
    calls = message.get("tool_calls") or []
    if not calls:
        return {"text": message.get("content")}
    return {"toolCalls": [{"name": c["name"], "arguments": json.loads(c["arguments"])} for c in calls]}


def _check_model_calls(
    launch: Launch, detail: dict[str, Any], events: list[dict[str, Any]], tally: Tally
) -> list[str]:
    """Each assistant message comes from one ``llm_call``; each scripted turn appears once."""
    eid = launch.execution_id
    assistant = [m for m in detail.get("messages", []) if m.get("role") == "assistant"]
    llm_calls = sum(1 for e in events if e["type"] == "llm_call")
    tally.llm_calls += llm_calls
    problems = []
    if llm_calls != len(assistant):
        problems.append(f"{eid}: {llm_calls} llm_call events but {len(assistant)} assistant messages")
    seen = [_turn_of(m) for m in assistant]
    if seen != launch.turns[: len(seen)]:
        problems.append(f"{eid}: the conversation does not follow the script: {seen}")
    if detail.get("status") == "COMPLETED" and len(seen) != len(launch.turns):
        problems.append(f"{eid}: {len(seen)} model turns recorded, {len(launch.turns)} scripted")
    return problems


def _check_call(key: str, call: dict[str, Any], ledger: LedgerSnapshot, tally: Tally) -> list[str]:
    effect = ledger.effects.get(key)
    runs = ledger.runs_of(key)
    tally.tool_runs += len(runs)
    problems = []
    if effect is not None and not runs:
        problems.append(f"{key}: an effect without a run")
    if call["status"] == "completed":
        tally.tool_calls += 1
        tally.effects += effect is not None
        parsed = parse_result(call.get("result"))
        if effect is None:
            problems.append(f"{key}: completed, but its effect is not in the ledger")
        if parsed is None or parsed[1] != key:
            problems.append(f"{key}: result {call.get('result')!r} does not carry this call's key")
        elif Run(key, call["name"], parsed[2], parsed[3]) not in runs:
            problems.append(f"{key}: the recorded result came from no recorded run")
    elif call["status"] == "rejected" and call.get("attempts", 0) == 0 and runs:
        problems.append(f"{key}: rejected before running, but ran {len(runs)} times")
    return problems


def audit(cluster: Cluster, launches: list[Launch]) -> Tally:
    """Check every invariant over every launch and the ledger; return counts and violations."""
    ledger = cluster.ledger.snapshot()
    tally = Tally()
    known: set[str] = set()
    for launch in launches:
        eid = launch.execution_id
        tally.executions += 1
        status = cluster.get_json(f"/agent/{eid}/status")
        detail = cluster.get_json(f"/agent/execution/{eid}")
        events = cluster.get_json(f"/agent/executions/{eid}/events", {"limit": 10_000})
        tally.violations += _check_status(launch, status)
        tally.violations += _check_events(eid, events, str(detail.get("status")))
        tally.violations += _check_model_calls(launch, detail, events, tally)
        for call in detail.get("toolCalls", []):
            if call["name"] in LEDGER_TOOLS:
                key = f"{eid}:{call['callId']}"
                known.add(key)
                tally.violations += _check_call(key, call, ledger, tally)
    strays = sorted(set(ledger.effects) - known)
    if strays:
        tally.violations.append(f"{len(strays)} effects belong to no tool call (unstable key?): {strays[:3]}")
    if tally.effects != tally.tool_calls:
        tally.violations.append(f"{tally.effects} effects for {tally.tool_calls} completed tool calls")
    if len(ledger.runs) < len(ledger.effects):
        tally.violations.append(f"{len(ledger.runs)} runs for {len(ledger.effects)} effects")
    return tally


class Monkey:
    """Seeded random faults in a background thread: SIGKILL a worker (and start a new one),
    SIGSTOP a worker past its lease (then SIGCONT), SIGKILL a server replica (then restart
    it). Every action is logged, so a failing schedule can be read back and replayed."""

    def __init__(
        self, cluster: Cluster, rng: random.Random, weights: dict[str, float], pause: tuple[float, float]
    ) -> None:
        self.cluster = cluster
        self.rng = rng
        self.weights = weights
        self.pause = pause
        self.actions: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-monkey", daemon=True)

    @property
    def faults(self) -> int:
        return len(self.actions)

    def start(self) -> Monkey:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop injecting faults and leave every process up and running."""
        self._stop.set()
        self._thread.join(120)
        self.cluster.heal()

    def _run(self) -> None:
        kinds = list(self.weights)
        while not self._stop.wait(self.rng.uniform(*self.pause)):
            kind = self.rng.choices(kinds, [self.weights[k] for k in kinds])[0]
            try:
                self._act(kind)
            except Exception as exc:  # noqa: BLE001 - reported as a violation by the test
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")

    def _act(self, kind: str) -> None:
        cluster = self.cluster
        if kind == "kill_worker":
            index = self.rng.randrange(len(cluster.workers))
            cluster.replace_worker(index)
        elif kind == "stop_worker":
            index = self.rng.randrange(len(cluster.workers))
            worker = cluster.workers[index]
            worker.send(signal.SIGSTOP)
            self._stop.wait(LEASE_SECONDS * 1.5)  # long enough for its leases to expire
            worker.send(signal.SIGCONT)
        elif kind == "kill_server":
            index = self.rng.randrange(len(cluster.servers))
            cluster.kill_server(index)
            self._stop.wait(self.rng.uniform(0.1, 0.6))
            cluster.restart_server(index)
        else:
            raise ValueError(f"unknown fault {kind!r}")
        self.actions.append(f"{kind}:{index}")


# --- results ------------------------------------------------------------------------------


class ScenarioRecord:
    """Collects one scenario run's numbers and appends them to ``$CHAOS_RESULTS`` on exit."""

    def __init__(self, scenario: str, backend: str) -> None:
        self.scenario = scenario
        self.backend = backend
        self.tally = Tally()
        self.faults = 0
        self.notes: list[str] = []
        self.known_bug = ""
        """Set by ``expect_bug`` when every violation is a known, reported bug."""
        self.watched_bug = ""
        self._started = time.monotonic()

    def __enter__(self) -> ScenarioRecord:
        self._started = time.monotonic()
        return self

    def expect_bug(self, bug: str, signature: str) -> None:
        """Mark the run as hitting ``bug`` if every violation so far carries ``signature``."""
        self.watched_bug = bug
        violations = self.tally.violations
        if violations and all(signature in v for v in violations):
            self.known_bug = bug

    def add(self, tally: Tally) -> None:
        for name in ("executions", "tool_calls", "tool_runs", "effects", "llm_calls"):
            setattr(self.tally, name, getattr(self.tally, name) + getattr(tally, name))
        self.tally.violations += tally.violations

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        outcome = "passed" if exc is None and not self.tally.violations else "failed"
        if exc is None and self.known_bug:
            outcome = "known bug"
        row = {
            "scenario": self.scenario,
            "backend": self.backend,
            "outcome": outcome,
            "error": f"{type(exc).__name__}: {exc}" if exc is not None else "",
            "seconds": round(time.monotonic() - self._started, 2),
            "seed": chaos_seed(),
            "full": full_mode(),
            "faults": self.faults,
            "notes": self.notes,
            "watched_bug": self.watched_bug,
            "bug_hit": bool(self.known_bug),
            **{k: v for k, v in asdict(self.tally).items() if k != "violations"},
            "violations": len(self.tally.violations),
            "violation_samples": self.tally.violations[:5],
        }
        write_result(row)


def write_result(row: dict[str, Any]) -> None:
    path = os.environ.get("CHAOS_RESULTS", "").strip()
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def record_skip(scenario: str, backend: str, reason: str) -> None:
    write_result({"scenario": scenario, "backend": backend, "outcome": "skipped", "error": reason})


# --- PostgreSQL ---------------------------------------------------------------------------


async def _admin(base_url: str, sql: str, *args: Any) -> None:
    import asyncpg

    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


@contextlib.contextmanager
def scratch_database(base_url: str, prefix: str) -> Iterator[str]:
    """A fresh database next to ``base_url``'s, dropped afterwards; yields its URL."""
    name = f"{prefix}_{random.SystemRandom().randrange(16**10):010x}"
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def terminate_backends(base_url: str, database_url: str) -> None:
    """Simulate a database outage: kill every connection to the test database."""
    name = database_url.rsplit("/", 1)[1].split("?")[0]
    sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
    asyncio.run(_admin(base_url, sql, name))


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    serve_worker()
