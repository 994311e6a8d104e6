"""Run the fault-injection scenarios and write their results table into docs/reliability.md.

``make chaos`` runs ``CHAOS_FULL=1 python tests/chaos/chaos_report.py``: pytest runs
``test_fault_injection.py`` with ``CHAOS_RESULTS`` pointing at a JSON-lines file that the
harness appends one row to per scenario run; this script then sums the rows per scenario
and rewrites the block between ``<!-- chaos-results:start -->`` and
``<!-- chaos-results:end -->`` (appended to the file if the markers are missing).

Options: ``--short`` (the ``make test`` sizes), ``--doc PATH``, ``--seed N`` (or
``CHAOS_SEED``). PostgreSQL scenarios run when ``AGENTSPAN_TEST_DATABASE_URL`` is set.
The exit code is pytest's, so a violated invariant fails ``make chaos`` after the table
has been written.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
START = "<!-- chaos-results:start -->"
END = "<!-- chaos-results:end -->"
SCENARIOS = {
    "worker_kill[before]": "1. SIGKILL a worker before the tool body starts",
    "worker_kill[mid]": "1. SIGKILL a worker mid-body, before its side effect",
    "worker_kill[after]": "1. SIGKILL a worker after the side effect, before it reports",
    "worker_sigstop": "2. SIGSTOP a worker past its lease; SIGCONT after another worker finished",
    "replica_kill": "3. SIGKILL one of two replicas mid-run; then both, and restart",
    "db_outage": "4. Terminate every database connection mid-run, repeatedly",
    "double_approval": "5. Two approvals of one wait, at two replicas at once",
    "soak[sqlite]": "6. Soak: random worker SIGKILL/SIGSTOP, server SIGKILL",
    "soak[postgres]": "6. Soak: random worker SIGKILL/SIGSTOP, replica SIGKILL (2 replicas)",
}
COUNTS = ("executions", "tool_calls", "tool_runs", "effects", "faults", "violations")


@dataclass
class Summary:
    scenario: str
    backend: str
    runs: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    seconds: float = 0.0
    outcomes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: dict[str, Any]) -> None:
        self.outcomes.append(str(row.get("outcome", "?")))
        if row.get("outcome") == "skipped":
            self.notes.append(str(row.get("error", "")))
            return
        self.runs += 1
        for name in COUNTS:
            self.counts[name] += int(row.get(name, 0))
        self.seconds += float(row.get("seconds", 0.0))
        if row.get("error"):
            self.notes.append(str(row["error"]))
        if row.get("watched_bug"):
            hit = "fired in this run" if row.get("bug_hit") else "did not fire in this run"
            self.notes.append(f"watches a known {row['watched_bug']} ({hit})")
        self.notes += [str(v) for v in row.get("violation_samples", [])[:2]]

    @property
    def result(self) -> str:
        for outcome in ("failed", "known bug", "passed"):
            if outcome in self.outcomes:
                return outcome.upper() if outcome == "failed" else outcome
        return "skipped"


def run_suite(results: Path, full: bool, seed: int) -> tuple[int, float]:
    env = {**os.environ, "CHAOS_RESULTS": str(results), "CHAOS_SEED": str(seed)}
    env["CHAOS_FULL"] = "1" if full else "0"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(HERE / "test_fault_injection.py"),
        "-m",
        "chaos",
        "-q",
        "-rfEsx",
        "-p",
        "no:cacheprovider",
    ]
    started = time.monotonic()
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    return code, time.monotonic() - started


def summarize(rows: list[dict[str, Any]]) -> list[Summary]:
    summaries: dict[tuple[str, str], Summary] = {}
    for row in rows:
        key = (str(row["scenario"]), str(row.get("backend", "")))
        summaries.setdefault(key, Summary(*key)).add(row)
    order = list(SCENARIOS)
    return sorted(summaries.values(), key=lambda s: order.index(s.scenario) if s.scenario in order else 99)


def _row(s: Summary) -> str:
    c = s.counts
    cells = [
        SCENARIOS.get(s.scenario, s.scenario),
        s.backend,
        str(s.runs),
        str(c["executions"]),
        str(c["tool_calls"]),
        str(c["tool_runs"]),
        str(c["effects"]),
        str(c["faults"]),
        str(c["violations"]),
        s.result,
        f"{s.seconds:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def render(summaries: list[Summary], *, seed: int, full: bool, seconds: float, code: int) -> str:
    now = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    executions = sum(s.counts["executions"] for s in summaries)
    violations = sum(s.counts["violations"] for s in summaries)
    lines = [
        "## Fault-injection results",
        "",
        f"Last run: {now}, `{'make chaos' if full else 'chaos_report.py --short'}` "
        f"({'full' if full else 'short'} sizes), seed `{seed}` "
        f"(replay with `CHAOS_SEED={seed} make chaos`): {executions} executions, "
        f"{violations} invariant violations, {seconds:.0f} s, pytest exit code {code}.",
        "Scenarios: `tests/chaos/test_fault_injection.py`; harness and invariants: `tests/chaos/harness.py`.",
        "",
        "| Scenario | Store | Runs | Executions | Tool calls | Tool runs | Effects | Faults | "
        "Invariant violations | Result | Time (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        *(_row(s) for s in summaries),
        "",
        "Runs: scenario runs (parametrizations). Tool calls: completed calls of the ledger tools. "
        "Tool runs: tool bodies started, killed ones included. Effects: side effects in the "
        "idempotency-keyed ledger (must equal tool calls). Faults: kills, stops, outages, races.",
    ]
    notes = [(s, n) for s in summaries for n in dict.fromkeys(s.notes) if n]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {s.scenario} ({s.backend}): {n}" for s, n in notes]
    return "\n".join(lines)


def rewrite(doc: Path, block: str) -> None:
    text = doc.read_text(encoding="utf-8")
    section = f"{START}\n{block}\n{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="the short sizes used by make test")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    full = not args.short and os.environ.get("CHAOS_FULL", "1") != "0"
    seed = args.seed or int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 2**31))
    print(f"chaos: CHAOS_SEED={seed}, {'full' if full else 'short'} sizes", flush=True)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        results = Path(tmp) / "results.jsonl"
        results.touch()
        code, seconds = run_suite(results, full, seed)
        rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    block = render(summarize(rows), seed=seed, full=full, seconds=seconds, code=code)
    rewrite(args.doc, block)
    print(block)
    return code


if __name__ == "__main__":
    sys.exit(main())
