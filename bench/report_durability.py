"""Figures 3 and 4 of docs/benchmarks.md: the cost of waiting and recovery (what durability
costs at rest and what it buys after a kill). Split from report.py, whose helpers it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import report as base


def section_waiting(results: dict[str, Any], plots: Path) -> str:
    data = results["waiting"]
    if not data:
        return "## 3. Cost of waiting\n\nNot run.\n"
    out = ["## 3. Cost of waiting", ""]
    out.append(
        "Executions of an agent whose tool needs approval are started and left waiting (never "
        "approved); levels are cumulative in one process. Agentspan: RSS and CPU of the server "
        "process (no worker is running; 50 warm-up executions are in the 0 row); each level "
        "checks that a sample of 300 executions (the 200 newest, 100 at random) reports "
        "`isWaiting`. Baselines: the process that "
        "started the runs (20 warm-up runs in the 0 row), on SQLite. A level is measured once the "
        "new executions all wait (Agentspan's server still has their first model calls queued when "
        "the starts return: *then until all wait*); idle CPU is measured over 5 s, from 5 s after "
        "that. *database MB* is the SQLite files, or "
        "`pg_database_size` (PostgreSQL's own processes are not in the RSS column)."
    )
    rows = []
    for key, value in data.items():
        if not base.ok(value):
            continue
        first = value["rows"][0]["rss_mb"] if value["rows"] else None
        for row in value["rows"]:
            rows.append(
                [
                    base.label(key),
                    f"{row['paused']:,}",
                    base.fmt(row["rss_mb"]),
                    base.fmt(row["rss_mb"] - first) if first is not None else "–",
                    base.fmt(row["idle_cpu_pct"]),
                    base.fmt(row.get("start_rate")),
                    base.fmt(row.get("settle_s")) if row.get("settle_s") is not None else "–",
                    base.fmt(row.get("db_mb")) if row.get("db_mb") is not None else "–",
                ]
            )
    out += [
        "",
        base.table(
            [
                "system",
                "paused",
                "RSS MB",
                "growth MB",
                "idle CPU %",
                "starts/s",
                "then until all wait, s",
                "database MB",
            ],
            rows,
        ),
    ]
    notes = [f"- {base.label(k)}: {v['note']}" for k, v in data.items() if base.ok(v) and v.get("note")]
    out += [""] + notes + base.errors_of(data)
    out += ["", plot_waiting(results, plots), ""]
    return "\n".join(out)


def plot_waiting(results: dict[str, Any], plots: Path) -> str:
    import matplotlib.pyplot as plt

    data = {k: v for k, v in results["waiting"].items() if base.ok(v) and v["rows"]}
    if not data:
        return ""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key, value in data.items():
        xs = [r["paused"] for r in value["rows"]]
        first = value["rows"][0]["rss_mb"]
        style = "-o" if key.startswith("agentspan") else "--s"
        left.plot(xs, [r["rss_mb"] - first for r in value["rows"]], style, label=base.label(key))
        right.plot(xs, [r["idle_cpu_pct"] for r in value["rows"]], style, label=base.label(key))
    counts = sorted({r["paused"] for value in data.values() for r in value["rows"]})
    for ax, ylabel in ((left, "RSS growth (MB)"), (right, "idle CPU (% of one core)")):
        ax.set_xscale("symlog", linthresh=max(1, min((c for c in counts if c > 0), default=1)))
        ax.set_xticks(counts, [f"{c:,}" for c in counts])
        ax.set_xlabel("executions paused for approval")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    left.axhline(50, color="red", linestyle=":", label="target: < 50 MB at 10,000")
    left.legend(fontsize=8)
    left.set_title("Memory while waiting")
    right.set_title("CPU while waiting")
    fig.tight_layout()
    return base.save(fig, plots, "fig3-waiting.png", "Figure 3: cost of waiting")


# --- figure 4 ---------------------------------------------------------------------------------


def section_recovery(results: dict[str, Any], plots: Path) -> str:
    data = results["recovery"]
    if not data:
        return "## 4. Recovery\n\nNot run.\n"
    lease = results["plan"].get("recovery_lease_seconds", 2.0)
    plan = results["plan"]
    out = ["## 4. Recovery", ""]
    out.append(
        f"{plan['recovery_n']} executions of a one-tool agent whose tool sleeps "
        f"{plan['recovery_tool_seconds']:g} s and appends `start`/`end` lines to a ledger file "
        f"(so every run of a tool body is counted). Worker and model-call leases are set to "
        f"{lease:g} s for this figure (defaults: 10 s and 30 s), so recovery times are mostly the "
        "lease: they scale with it. Workers run up to "
        f"{plan['recovery_threads']} tool calls at once."
    )
    kill_rows, restart_rows = [], []
    for key, value in data.items():
        if not base.ok(value):
            continue
        backend = key.split("/")[1]
        if key.endswith("worker_kill"):
            kill_rows.append(
                [
                    backend,
                    str(value["in_flight_at_kill"]),
                    base.fmt(value["first_rerun_s"]),
                    base.fmt(value["last_rerun_s"]),
                    base.fmt(value["all_done_s"]),
                    str(value["ran_twice"]),
                    str(value["ran_twice_not_in_flight"]),
                ]
            )
        else:
            restart_rows.append(
                [
                    backend,
                    str(value["unfinished_at_kill"]),
                    str(value.get("in_flight_at_kill", "–")),
                    base.fmt(value["restart_to_healthy_s"]),
                    base.fmt(value["restart_to_median_moving_s"]),
                    base.fmt(value["restart_to_all_moving_s"]),
                    base.fmt(value["restart_to_all_done_s"]),
                    str(value["ran_twice"]),
                    str(value.get("ran_twice_not_in_flight", "–")),
                ]
            )
    if kill_rows:
        out += [
            "",
            "**Worker SIGKILL.** Two workers share the executions; once one of them (the victim) has "
            "at least half its slots busy it is killed, and its calls run again on the other worker "
            "after their leases expire. Times from the SIGKILL, in seconds.",
            "",
            base.table(
                [
                    "store",
                    "calls in flight on the victim",
                    "first re-run starts",
                    "last re-run starts",
                    "all executions done",
                    "tool bodies run twice",
                    "…of which not in flight",
                ],
                kill_rows,
            ),
        ]
    if restart_rows:
        out += [
            "",
            "**Server SIGKILL + restart.** One worker, all its slots busy; the server is killed and "
            "started again at once (same data directory / database). *Moving* = the execution "
            "records its first event after the restart; *in flight* = tool bodies started before the "
            "kill whose result the server had not recorded. Times from the restart, in seconds.",
            "",
            base.table(
                [
                    "store",
                    "executions unfinished at the kill",
                    "tool calls in flight",
                    "healthy",
                    "half moving",
                    "all moving",
                    "all done",
                    "tool bodies run twice",
                    "…of which not in flight",
                ],
                restart_rows,
            ),
        ]
    for key, value in data.items():
        if base.ok(value) and key.endswith("server_restart") and value.get("ran_twice_not_in_flight"):
            out += [
                "",
                f"On {key.split('/')[1]}, {value['ran_twice_not_in_flight']} tool calls that were not in flight "
                "at the kill ran twice (bug 4 below was such a case; this one is not explained).",
            ]
    out += [""] + base.errors_of(data)
    out += [
        "",
        "No baseline is measured here: LangGraph has no workers or leases (resuming a crashed run "
        "is the application's job: `invoke(None, config)` on the thread), and DBOS recovers a "
        "crashed process's workflows when the process starts again; a like-for-like DBOS "
        "restart measurement is future work.",
        "",
        plot_recovery(results, plots),
        "",
    ]
    return "\n".join(out)


def plot_recovery(results: dict[str, Any], plots: Path) -> str:
    import matplotlib.pyplot as plt

    data = {k: v for k, v in results["recovery"].items() if base.ok(v)}
    if not data:
        return ""
    bars: list[tuple[str, float]] = []
    for key, value in data.items():
        backend = key.split("/")[1]
        if key.endswith("worker_kill"):
            bars += [
                (f"{backend}: worker kill → first re-run", value["first_rerun_s"]),
                (f"{backend}: worker kill → last re-run", value["last_rerun_s"]),
                (f"{backend}: worker kill → all done", value["all_done_s"]),
            ]
        else:
            bars += [
                (f"{backend}: restart → healthy", value["restart_to_healthy_s"]),
                (f"{backend}: restart → all moving", value["restart_to_all_moving_s"]),
                (f"{backend}: restart → all done", value["restart_to_all_done_s"]),
            ]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(bars) + 1.5))
    y = list(range(len(bars)))
    ax.barh(y, [b[1] for b in bars], color=["tab:orange" if "worker" in b[0] else "tab:purple" for b in bars])
    ax.set_yticks(y, [b[0] for b in bars])
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title(f"Recovery ({results['plan']['recovery_n']} executions in flight)")
    fig.tight_layout()
    return base.save(fig, plots, "fig4-recovery.png", "Figure 4: recovery")


# --- targets and the document -----------------------------------------------------------------
