"""Fault injection: kill, freeze and disconnect things mid-run, then audit every execution.

Each scenario runs real ``agentspan server run`` processes and worker processes (the
harness), injects its faults, waits for every execution to settle and then checks the
invariants of the correctness contract (``harness.audit``): every execution terminal;
event ids 1..n; each assistant message from exactly one ``llm_call`` and each scripted
turn once; exactly one side effect per completed tool call, keyed by its idempotency key.

Short versions run in ``make test``; ``CHAOS_FULL=1`` (``make chaos``) runs the long ones.
``CHAOS_SEED`` replays a random fault schedule; ``CHAOS_SOAK_EXECUTIONS`` sizes the soak.
PostgreSQL scenarios need ``AGENTSPAN_TEST_DATABASE_URL`` and are skipped without it.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import (
    Cluster,
    Monkey,
    ScenarioRecord,
    audit,
    chaos_seed,
    full_mode,
    pg_base_url,
    record_skip,
    rng_for,
    scale,
    scratch_database,
    settle,
    terminate_backends,
    wait_for,
)
from scenarios import HOLD_PHASES, SHAPES, Launch, LedgerSnapshot

pytestmark = pytest.mark.chaos
MakeCluster = Callable[..., Cluster]
SETTLE_SECONDS = 60.0


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[MakeCluster]:
    """Start clusters for a test; every process in them is killed afterwards."""
    made: list[Cluster] = []

    def make(replicas: int = 1, database_url: str | None = None) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster-{len(made)}", replicas=replicas, database_url=database_url)
        made.append(cluster)
        return cluster.start()

    yield make
    for cluster in made:
        cluster.close()


def require_postgres(scenario: str) -> str:
    base = pg_base_url()
    if not base:
        reason = "AGENTSPAN_TEST_DATABASE_URL is not set: PostgreSQL scenario skipped"
        record_skip(scenario, "postgres", reason)
        pytest.skip(reason)
    return base


def finish(record: ScenarioRecord) -> None:
    if record.known_bug:
        pytest.xfail(f"{record.known_bug} ({len(record.tally.violations)} executions hit it)")
    assert not record.tally.violations, (
        f"{len(record.tally.violations)} invariant violations (CHAOS_SEED={chaos_seed()}): "
        + "; ".join(record.tally.violations[:10])
    )


# --- 1. SIGKILL a worker at each boundary of a tool call ----------------------------------


def _boundary_problems(boundary: str, held: dict[str, int], ledger: LedgerSnapshot) -> list[str]:
    """What each boundary means for the calls the killed worker held there."""
    problems = []
    for key, pid in held.items():
        runs = [(r.pid == pid, r.attempt) for r in ledger.runs_of(key)]
        effect = ledger.effects.get(key)
        expected_runs = [(False, 2)] if boundary == "before" else [(True, 1), (False, 2)]
        if runs != expected_runs:
            problems.append(f"{key}: runs (by killed worker?, attempt) {runs}, expected {expected_runs}")
        by_killed = boundary == "after"  # only then had the killed worker written the effect
        if effect is None or (effect.pid == pid) != by_killed or effect.attempt != (1 if by_killed else 2):
            problems.append(f"{key}: effect {effect} after a kill {boundary} the body")
    return problems


@pytest.mark.parametrize("boundary", HOLD_PHASES)
def test_worker_killed_at_each_tool_boundary(boundary: str, clusters: MakeCluster) -> None:
    n = scale(3, 10)
    with ScenarioRecord(f"worker_kill[{boundary}]", "sqlite") as record:
        cluster = clusters()
        doomed = cluster.add_worker(hold=boundary, threads=2 * n)
        launches = [cluster.start_execution("fan", f"kill-{boundary}-{i}") for i in range(n)]
        # The fan shape calls two tools in parallel first: 2n calls stop at the boundary.
        wait_for(lambda: len(cluster.held(boundary)) >= 2 * n, 30, f"{2 * n} calls held {boundary}")
        doomed.kill()
        record.faults += 1
        cluster.add_worker()
        settle(cluster, launches, SETTLE_SECONDS)
        tally = audit(cluster, launches)
        tally.violations += _boundary_problems(boundary, cluster.held(boundary), cluster.ledger.snapshot())
        record.add(tally)
    finish(record)


# --- 2. SIGSTOP a worker past its lease: its late completion is fenced --------------------


def _fencing_problems(held: dict[str, int], ledger: LedgerSnapshot, survivor: int) -> list[str]:
    problems = []
    for key, frozen in held.items():
        late = [(r.status, r.code) for r in ledger.reports if r.key == key and r.pid == frozen]
        if late != [(409, "lease_lost")]:
            problems.append(f"{key}: the frozen worker's completion got {late}, expected 409 lease_lost")
        accepted = [(r.status, r.pid) for r in ledger.reports if r.key == key and r.status == 204]
        if accepted != [(204, survivor)]:
            problems.append(f"{key}: accepted completions {accepted}, expected one from {survivor}")
        runs = [(r.pid, r.attempt) for r in ledger.runs_of(key)]
        if runs != [(frozen, 1), (survivor, 2)]:
            problems.append(f"{key}: runs {runs}, expected the frozen worker's then the survivor's")
        effect = ledger.effects.get(key)
        if effect is None or effect.pid != survivor:
            problems.append(f"{key}: effect {effect}, expected one, written by the survivor")
    return problems


def test_stopped_worker_late_completion_is_fenced(clusters: MakeCluster) -> None:
    n = scale(2, 6)
    with ScenarioRecord("worker_sigstop", "sqlite") as record:
        cluster = clusters()
        frozen = cluster.add_worker(hold="mid", threads=n)
        launches = [cluster.start_execution("single", f"stop-{i}") for i in range(n)]
        wait_for(lambda: len(cluster.held("mid")) >= n, 30, f"{n} calls held mid-body")
        frozen.send(signal.SIGSTOP)  # past its lease: no heartbeats while frozen
        record.faults += 1
        survivor = cluster.add_worker()
        settle(cluster, launches, SETTLE_SECONDS)  # the survivor finishes every run
        cluster.release()
        frozen.send(signal.SIGCONT)  # it wakes mid-body, writes its effect, reports late
        held = cluster.held("mid")

        def late_reports() -> int:
            return sum(1 for r in cluster.ledger.snapshot().reports if r.pid == frozen.pid)

        wait_for(lambda: late_reports() >= n, 30, "the frozen worker's late completions")
        tally = audit(cluster, launches)
        tally.violations += _fencing_problems(held, cluster.ledger.snapshot(), survivor.pid)
        record.add(tally)
    finish(record)


# --- 3. SIGKILL a server replica mid-run; then every replica at once ----------------------


def _runs_after(cluster: Cluster, before: int, count: int) -> Callable[[], bool]:
    """True once ``count`` tool bodies started after the first ``before``."""
    return lambda: len(cluster.ledger.snapshot().runs) >= before + count


def test_replica_killed_mid_run_then_all_replicas(clusters: MakeCluster) -> None:
    base = require_postgres("replica_kill")
    n = scale(4, 30)
    with (
        scratch_database(base, "agentspan_chaos") as db,
        ScenarioRecord("replica_kill", "postgres") as record,
    ):
        cluster = clusters(replicas=2, database_url=db)
        cluster.add_worker(0, work="0.05,0.3")
        cluster.add_worker(1, work="0.05,0.3")
        first = [cluster.start_execution("fan", f"one-{i}", prefer=i % 2) for i in range(n)]
        wait_for(_runs_after(cluster, 0, n), 30, "tool calls under way")
        cluster.kill_server(0)  # replica 1 and its worker carry on alone
        record.faults += 1
        settle(cluster, first, SETTLE_SECONDS)
        cluster.restart_server(0)
        done_before = len(cluster.ledger.snapshot().runs)
        second = [cluster.start_execution("fan", f"all-{i}", prefer=i % 2) for i in range(n)]
        wait_for(_runs_after(cluster, done_before, n), 30, "tool calls under way again")
        cluster.kill_server(0)
        cluster.kill_server(1)  # a full outage
        record.faults += 2
        time.sleep(0.5)
        cluster.restart_servers([0, 1])
        settle(cluster, second, SETTLE_SECONDS)
        record.add(audit(cluster, first + second))
    finish(record)


# --- 4. Database outage: every connection of the database terminated, a few times -----------


def test_database_connections_terminated_mid_run(clusters: MakeCluster) -> None:
    base = require_postgres("db_outage")
    n, outages = scale(12, 60), scale(3, 10)
    rng = rng_for("db_outage")
    with scratch_database(base, "agentspan_chaos") as db, ScenarioRecord("db_outage", "postgres") as record:
        cluster = clusters(replicas=2, database_url=db)
        cluster.add_worker(0, work="0.05,0.2")
        cluster.add_worker(1, work="0.05,0.2")
        launches: list[Launch] = []
        for wave in range(outages):
            # Start a wave (retrying through the outage), then cut every connection.
            for i in range(n // outages or 1):
                launches.append(cluster.start_execution("fan", f"db-{wave}-{i}", prefer=i % 2))
            time.sleep(rng.uniform(0.2, 0.8))
            terminate_backends(base, db)
            record.faults += 1
        settle(cluster, launches, SETTLE_SECONDS)
        # A dropped connection while a model call is prepared or recorded is retried, never
        # turned into a failed run (this used to end executions FAILED).
        record.add(audit(cluster, launches))
    finish(record)


# --- 5. Two approvals of one wait, at two replicas at once: exactly one wins --------------


def _race(cluster: Cluster, launch: Launch, call_id: str, i: int) -> list[tuple[int, str, str]]:
    """POST two decisions at the same moment, one per replica: (status, code, decidedBy)."""
    bodies = [
        {"approved": True, "decidedBy": f"alice-{i}"},
        {"approved": i % 3 != 0, "decidedBy": f"bob-{i}", "reason": "race"},
    ]
    if i % 2:
        for body in bodies:
            body["taskRefName"] = call_id  # half name the call, half answer "the" wait
    barrier = threading.Barrier(2)
    results: list[tuple[int, str, str]] = [(0, "", "")] * 2

    def send(side: int) -> None:
        url = f"{cluster.api_url(side)}/agent/{launch.execution_id}/respond"
        with httpx.Client(timeout=10) as client:
            client.get(cluster.api_url(side) + "/agent/executions")  # warm the connection
            barrier.wait()
            response = client.post(url, json=bodies[side])
        code = response.json().get("code", "") if response.status_code != 200 else ""
        results[side] = (response.status_code, str(code), str(bodies[side]["decidedBy"]))

    threads = [threading.Thread(target=send, args=(side,)) for side in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _race_problems(cluster: Cluster, launch: Launch, call_id: str, results: list[Any]) -> list[str]:
    eid = launch.execution_id
    winners = [r for r in results if r[0] == 200]
    # The loser hears that the wait was decided, that nothing waits any more, or — when
    # the winner's decision let the run finish before the loser's arrived — that the
    # execution already ended.
    losers = [
        r for r in results if r[0] == 409 and r[1] in ("already_decided", "not_waiting", "invalid_state")
    ]
    if len(winners) != 1 or len(losers) != 1:
        return [f"{eid}: two simultaneous decisions answered {results}; expected one 200 and one 409"]
    events = cluster.get_json(f"/agent/executions/{eid}/events")
    decisions = [
        e.get("data") or {} for e in events if e["type"] == "approval" and e.get("callId") == call_id
    ]
    if len(decisions) != 1 or decisions[0].get("decidedBy") != winners[0][2]:
        return [f"{eid}: recorded decisions {decisions}, expected one by {winners[0][2]}"]
    if not decisions[0].get("decidedAt"):
        return [f"{eid}: the decision does not record when it was made"]
    launch.approve = bool(decisions[0].get("approved"))
    return []


def test_two_approvals_at_two_replicas_one_wins(clusters: MakeCluster) -> None:
    base = require_postgres("double_approval")
    n = scale(6, 40)
    with (
        scratch_database(base, "agentspan_chaos") as db,
        ScenarioRecord("double_approval", "postgres") as record,
    ):
        cluster = clusters(replicas=2, database_url=db)
        cluster.add_worker(0)
        launches = [cluster.start_execution("approval", f"race-{i}", prefer=i % 2) for i in range(n)]

        def waiting() -> dict[str, str]:
            statuses = [cluster.get_json(f"/agent/{launch.execution_id}/status") for launch in launches]
            return {s["executionId"]: s["pendingTool"]["taskRefName"] for s in statuses if s.get("isWaiting")}

        wait_for(lambda: len(waiting()) == n, 30, "every run waiting for its approval")
        calls = waiting()
        problems: list[str] = []
        for i, launch in enumerate(launches):
            call_id = calls[launch.execution_id]
            results = _race(cluster, launch, call_id, i)
            record.faults += 1
            problems += _race_problems(cluster, launch, call_id, results)
        settle(cluster, launches, SETTLE_SECONDS, answer_waits=False)
        tally = audit(cluster, launches)
        tally.violations += problems
        record.add(tally)
    finish(record)


# --- 6. Soak: hundreds of runs under seeded random kills ----------------------------------

SHAPE_WEIGHTS = {"fan": 0.4, "single": 0.25, "fragile": 0.15, "approval": 0.1, "talk": 0.1}
FAULT_WEIGHTS = {
    "sqlite": {"kill_worker": 0.7, "stop_worker": 0.2, "kill_server": 0.1},
    "postgres": {"kill_worker": 0.55, "stop_worker": 0.15, "kill_server": 0.3},
}
assert set(SHAPE_WEIGHTS) == set(SHAPES)


def _launch_paced(cluster: Cluster, rng: random.Random, n: int, seconds: float, prefix: str) -> list[Launch]:
    """Start ``n`` runs spread over ``seconds``, so faults land on work at every stage."""
    shapes = rng.choices(list(SHAPE_WEIGHTS), list(SHAPE_WEIGHTS.values()), k=n)
    launches = []
    replicas = len(cluster.servers)
    for i, shape in enumerate(shapes):
        approve = rng.random() < 0.7
        launches.append(cluster.start_execution(shape, f"{prefix}-{i}", prefer=i % replicas, approve=approve))
        time.sleep(seconds / n)
    return launches


@pytest.mark.timeout(1800 if full_mode() else 120)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_soak_under_random_kills(backend: str, clusters: MakeCluster) -> None:
    base = require_postgres(f"soak[{backend}]") if backend == "postgres" else ""
    n = scale(40, 400, "CHAOS_SOAK_EXECUTIONS")
    seed = chaos_seed()
    rng = rng_for(f"soak[{backend}]")
    replicas = 2 if base else 1
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(scratch_database(base, "agentspan_soak")) if base else None
        record = stack.enter_context(ScenarioRecord(f"soak[{backend}]", backend))
        cluster = clusters(replicas=replicas, database_url=db)
        for i in range(3):
            cluster.add_worker(i % replicas, work="0.1,0.6")
        monkey = Monkey(cluster, rng, FAULT_WEIGHTS[backend], pause=(0.2, 0.7)).start()
        launches = _launch_paced(cluster, rng, n, n * 0.1, f"soak-{seed}")
        # Faults keep coming until everything settles (or the chaos window closes) ...
        waits = settle(cluster, launches, scale(30, 300))
        monkey.stop()
        # ... then, with everything up, nothing may stay pending.
        waits.waits_seen += settle(cluster, launches, SETTLE_SECONDS).waits_seen
        record.faults = monkey.faults
        record.notes = [f"waits answered: {dict(waits.waits_seen)}", f"faults: {' '.join(monkey.actions)}"]
        tally = audit(cluster, launches)
        tally.violations += [f"fault injection failed: {e}" for e in monkey.errors]
        record.add(tally)
    print(f"soak[{backend}] CHAOS_SEED={seed}: {record.faults} faults; {record.notes[0]}")
    finish(record)
