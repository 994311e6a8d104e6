"""``make bench-compare BASE=<rev>``: figure 1 (the durable turn) for two commits, in one run.

A refactoring must not slow the durable turn, and two runs of ``make bench`` an hour apart
differ by more than the change being judged. So this measures both commits in the same
run, interleaved: round 1 runs the base, then the head; round 2 the head, then the base;
and so on. Each measurement is ``ours.overhead`` (a real server process, a real worker
process, this harness as the client) in a subprocess whose ``PYTHONPATH`` puts that
commit's ``src/`` first, so server, worker and SDK all run that commit's code; the
harness itself (bench/, tests/support/) is the head's for both.

    bench/.venv/bin/python bench/compare.py --base 94ecc43 [--rounds 4] [--turns 100]

It prints the median per-turn time of each commit (all samples of all rounds pooled),
the median of each round, the ratio head/base (pooled, and the median of the rounds'
ratios, which cancels the machine's drift between rounds), and the CPU time per turn of
all processes, and writes them to
``bench/results/compare-<base>-<head>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

_MEASURE = """
import json, sys
import ours
result = ours.overhead(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
print("RESULT " + json.dumps(result))
"""


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def _measure(src: Path, backend: str, warmup: int, reps: int, turns: int) -> tuple[list[float], float]:
    """One overhead measurement with ``src`` first on the path: the per-rep medians of the
    wall time per turn, and the CPU time per turn of server, worker and client together."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(BENCH), str(ROOT / "tests")])
    cmd = [sys.executable, "-c", _MEASURE, backend, str(warmup), str(reps), str(turns)]
    out = subprocess.run(cmd, cwd=BENCH, env=env, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    medians: list[float] = result["turn_ms"]["rep_medians"]
    return medians, sum(result["cpu_ms_per_turn"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--head", default="WORKTREE", help="a commit, or WORKTREE for this checkout")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3, help="repetitions per measurement")
    parser.add_argument("--turns", type=int, default=100, help="turns per repetition")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    base_rev = _git("rev-parse", "--short", args.base)
    head_rev = "worktree" if args.head == "WORKTREE" else _git("rev-parse", "--short", args.head)
    samples: dict[str, list[float]] = {base_rev: [], head_rev: []}
    cpu: dict[str, list[float]] = {base_rev: [], head_rev: []}
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        sources = {base_rev: Path(tmp) / "base" / "src", head_rev: ROOT / "src"}
        _git("worktree", "add", "--detach", str(Path(tmp) / "base"), base_rev)
        if args.head != "WORKTREE":
            _git("worktree", "add", "--detach", str(Path(tmp) / "head"), head_rev)
            sources[head_rev] = Path(tmp) / "head" / "src"
        try:
            for n in range(args.rounds):
                order = [base_rev, head_rev] if n % 2 == 0 else [head_rev, base_rev]
                this_round: dict[str, float] = {}
                for label in order:
                    medians, cpu_ms = _measure(
                        sources[label], args.backend, args.warmup, args.reps, args.turns
                    )
                    samples[label].extend(medians)
                    cpu[label].append(cpu_ms)
                    this_round[label] = statistics.median(medians)
                rounds.append(this_round)
                print(
                    f"round {n + 1}: "
                    + ", ".join(f"{k} {this_round[k]:.2f} ms ({cpu[k][-1]:.2f} ms CPU)" for k in order),
                    flush=True,
                )
        finally:
            for name in ("base", "head"):
                if (Path(tmp) / name).exists():
                    _git("worktree", "remove", "--force", str(Path(tmp) / name))
    base_ms = statistics.median(samples[base_rev])
    head_ms = statistics.median(samples[head_rev])
    base_cpu = statistics.median(cpu[base_rev])
    head_cpu = statistics.median(cpu[head_rev])
    # Each round's head/base ratio cancels the machine's drift between rounds.
    ratios = [r[head_rev] / r[base_rev] for r in rounds]
    summary = {
        "backend": args.backend,
        "base": base_rev,
        "head": head_rev,
        "base_median_ms": base_ms,
        "head_median_ms": head_ms,
        "ratio": head_ms / base_ms,
        "round_ratios": ratios,
        "median_round_ratio": statistics.median(ratios),
        "base_cpu_ms": base_cpu,
        "head_cpu_ms": head_cpu,
        "rounds": rounds,
        "how": (
            f"{args.rounds} interleaved rounds; each round one measurement per commit of "
            f"{args.reps} x {args.turns} back-to-back runs after {args.warmup} warm-up runs; "
            "the figure is the median of the per-repetition medians"
        ),
    }
    out = BENCH / "results" / f"compare-{base_rev}-{head_rev}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"durable turn on {args.backend}: base {base_rev} {base_ms:.2f} ms, head {head_rev} "
        f"{head_ms:.2f} ms, head/base {head_ms / base_ms:.3f}, median of the rounds' ratios "
        f"{statistics.median(ratios):.3f}; CPU per turn (all processes) {base_cpu:.2f} vs {head_cpu:.2f} ms"
        f"  ({out.relative_to(ROOT)})"
    )


if __name__ == "__main__":
    main()
