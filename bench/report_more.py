"""Figures 5 (streaming) and 6 (cost against conversation length) of docs/benchmarks.md.

Split from ``report.py`` to keep it readable; uses its helpers (``fmt``, ``table``, ``save``
...), which are looked up at call time, so the two modules may import each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import report as base

FLAT = 1.25  # "flat": at most 25 % more per step at the end (or the largest size) than at the start


def _levels(value: Any, key: str) -> dict[int, Any]:
    """A measurement's per-size results with int keys (JSON turns them into strings)."""
    if not base.ok(value):
        return {}
    return {int(k): v for k, v in value.get(key, {}).items()}


def _backend(key: str) -> str:
    return {"agentspan/sqlite": "SQLite", "agentspan/postgres": "PostgreSQL"}.get(key, key)


# --- figure 5 ---------------------------------------------------------------------------------

STREAMING_METHOD = (
    "One server (no worker), one execution per subscriber count *N*, of an agent whose tool needs "
    "approval {events} times in a row; *N* clients follow its `GET /api/agent/stream/{{id}}` "
    "(default `deltas`). Each `POST /api/agent/{{id}}/respond` (a rejection) commits an `approval` "
    "event; the server then runs the next scripted model call itself and the execution waits again. "
    "For each of {events} such events (after 2 warm-up ones) and each subscriber, the time until "
    "the `approval` frame arrived is taken from just before the request was written (*from send*: "
    "an upper bound of commit → delivery, since the commit happens inside the request; at N = 1 "
    "it is mostly the request itself) and from the moment its response was complete (*from "
    "return*: a lower bound, valid only while the response is not itself held back — see "
    "*respond call*). The subscribers are raw sockets on one uvloop event loop in the benchmark "
    "process that only timestamp what arrives; reading N sockets one after the other is part of "
    "the last subscriber's time (the client's CPU per event is shown). There is no SSE in the "
    "baselines: the reference is the same server with one subscriber, and *× N = 1* is the median "
    "from send as a multiple of N = 1's. Times in ms; medians and p99s over events × subscribers."
)


def section_streaming(results: dict[str, Any], plots: Path) -> str:
    data = results.get("streaming") or {}
    if not data:
        return "## 5. Streaming latency\n\nNot run.\n"
    events = results["plan"].get("stream_events", "?")
    out = ["## 5. Streaming latency", "", STREAMING_METHOD.format(events=events), ""]
    rows, notes = [], []
    for key, value in data.items():
        levels = _levels(value, "levels")
        base_level = levels.get(1)
        ref = base_level["from_send_ms"]["median"] if base_level is not None and base.ok(base_level) else None
        for n, level in sorted(levels.items()):
            if not base.ok(level):
                notes.append(f"- **{_backend(key)}, N = {n:,}**: not measured — {level.get('error')}")
                continue
            rows.append(_streaming_row(key, n, level, ref))
        notes += _streaming_notes(key, levels)
    out.append(
        base.table(
            [
                "store",
                "N",
                "from send: median",
                "p99",
                "max",
                "last subscriber: median",
                "max",
                "median × N = 1",
                "from return: median",
                "respond call",
                "server CPU ms / event",
                "client CPU ms / event",
                "samples",
            ],
            rows,
        )
    )
    out += ["", *notes, *base.errors_of(data), "", plot_streaming(results, plots), ""]
    return "\n".join(out)


def _streaming_row(key: str, n: int, level: dict[str, Any], ref: float | None) -> list[str]:
    send, last = level["from_send_ms"], level["last_from_send_ms"]
    return [
        _backend(key),
        f"{n:,}",
        base.fmt(send["median"]),
        base.fmt(send["p99"]),
        base.fmt(send["max"]),
        base.fmt(last["median"]),
        base.fmt(last["max"]),
        base.ratio(send["median"], ref) if n != 1 else "1×",
        base.fmt(level["from_return_ms"]["median"]),
        base.fmt(level["respond_ms"]["median"]),
        base.fmt(level["server_cpu_ms_per_event"]),
        base.fmt(level["client_cpu_ms_per_event"]),
        f"{send['n']:,}",
    ]


def _streaming_notes(key: str, levels: dict[int, Any]) -> list[str]:
    good = {n: v for n, v in levels.items() if base.ok(v)}
    if len(good) < 2 or 1 not in good:
        return []
    top = max(good)
    one, big = good[1], good[top]
    per_sub = (big["server_cpu_ms_per_event"] - one["server_cpu_ms_per_event"]) / (top - 1)
    notes = [
        f"- {_backend(key)}: with {top:,} subscribers the median event arrives "
        f"{base.fmt(big['from_send_ms']['median'])} ms after the request was sent "
        f"({base.ratio(big['from_send_ms']['median'], one['from_send_ms']['median'])} N = 1), the last "
        f"subscriber after {base.fmt(big['last_from_send_ms']['median'])} ms. The server spends "
        f"{base.fmt(per_sub, 3)} ms of CPU per extra subscriber per event (each event here wakes the "
        "streams twice: the approval, then the model call's result). The streams of an execution "
        "share one read of the log and one encoding per event (`_EventFeed` in "
        "`server/service/stream.py`); what is left per subscriber is waking its stream, the streaming "
        "response around it and its own `send()`, all on the server's one event loop."
    ]
    if big["respond_ms"]["median"] > max(20.0, 5 * one["respond_ms"]["median"]):
        notes.append(
            f"- {_backend(key)}: the `respond` call itself took {base.fmt(big['respond_ms']['median'])} ms "
            f"at N = {top:,} (N = 1: {base.fmt(one['respond_ms']['median'])} ms) although the server "
            "stamped the event within "
            f"{base.fmt(big['stamped_after_send_ms']['median'])} ms of the send: its response left only "
            "after the fan-out to the subscribers, so *from return* is no bound there and *from send* "
            "is the number to read."
        )
    return notes


def plot_streaming(results: dict[str, Any], plots: Path) -> str:
    import matplotlib.pyplot as plt

    data = {k: _levels(v, "levels") for k, v in (results.get("streaming") or {}).items()}
    data = {k: {n: v for n, v in levels.items() if base.ok(v)} for k, levels in data.items()}
    data = {k: v for k, v in data.items() if v}
    if not data:
        return ""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (key, levels), color in zip(data.items(), ("tab:blue", "tab:green", "tab:orange"), strict=False):
        xs = sorted(levels)
        for metric, stat, style, what in (
            ("from_send_ms", "median", "-o", "median"),
            ("from_send_ms", "p99", "--", "p99"),
            ("last_from_send_ms", "median", ":s", "last subscriber (median)"),
        ):
            ys = [levels[n][metric][stat] for n in xs]
            ax.plot(xs, ys, style, color=color, label=f"{_backend(key)}: {what}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("subscribers of the execution (N)")
    ax.set_ylabel("ms from the respond request to the frame")
    ax.set_title("Commit → SSE delivery")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return base.save(fig, plots, "fig5-streaming.png", "Figure 5: streaming latency")


# --- figure 6 ---------------------------------------------------------------------------------

HISTORY_METHOD = (
    "An agent whose scripted model calls the `echo` tool K times in a row (a worker process runs "
    "it) and then answers, so its conversation ends with 2K + 2 messages: K = {ks} for "
    "{lengths} messages, with enough runs (at least 2) for {rounds} rounds per length. A *round* "
    "is one tool call and the model call after it (2 durable steps), timed from the commit times "
    "the server stored with the events (read from the database: the API rounds them to ms): the "
    "*tool leg* runs from `tool_call` to `tool_result` (dispatch to the worker, the tool, the "
    "result's commit), the *model leg* from `tool_result` to the next `tool_call` (queueing the "
    "model call, reading the conversation, the model, the commit). Rounds are grouped by the tenth "
    "of their run; *slope* is a least-squares line through those medians against the messages in "
    "the conversation (robust to a stalled round; – when the runs span fewer than 50 messages, "
    "where it would be noise), and *flat* means the line ends at most 25 % above where it starts. "
    "Rounds with a leg over 1 s are counted apart: they are stalls, not the cost of history. Per run: database growth (SQLite pages in use, or `pg_database_size`), the "
    "server's CPU time and the bytes it passed to `write()` (`/proc/<pid>/io` `wchar`: database "
    "files and sockets), and on PostgreSQL the WAL generated (cluster-wide); the sizes of the "
    "execution's rows at the end."
)


def section_history(results: dict[str, Any], plots: Path) -> str:
    data = results.get("history") or {}
    if not data:
        return "## 6. How cost grows with work\n\nNot run.\n"
    plan = results["plan"]
    sizes = plan.get("history_lengths", [])
    method = HISTORY_METHOD.format(
        ks=", ".join(str(max(1, (n - 2) // 2)) for n in sizes),
        lengths=", ".join(f"{n:,}" for n in sizes),
        rounds=plan.get("history_min_rounds", "?"),
    )
    out = ["## 6. How cost grows with work", "", method, ""]
    time_rows, byte_rows, notes = [], [], []
    for key, value in data.items():
        lengths = _levels(value, "lengths")
        for length, row in sorted(lengths.items()):
            if not base.ok(row):
                notes.append(f"- **{_backend(key)}, {length:,} messages**: not measured — {row.get('error')}")
                continue
            time_rows.append(_history_time_row(key, row))
            byte_rows.append(_history_byte_row(key, row))
        notes += _history_notes(key, lengths)
    out.append(
        base.table(
            [
                "store",
                "messages",
                "rounds",
                "round ms: first tenth",
                "middle",
                "last tenth",
                "model leg: first → last",
                "tool leg: first → last",
                "slope µs / message: round",
                "model leg",
                "tool leg",
                "server CPU ms / step",
                "rounds > 1 s",
            ],
            time_rows,
        )
    )
    out += [
        "",
        base.table(
            [
                "store",
                "messages",
                "stored B / message",
                "message rows B / message",
                "event rows B / message",
                "state row B (rewritten every step)",
                "server write() B / step",
                "PostgreSQL WAL B / step",
            ],
            byte_rows,
        ),
    ]
    out += ["", *notes, *base.errors_of(data), "", plot_history(results, plots), ""]
    return "\n".join(out)


def _history_time_row(key: str, row: dict[str, Any]) -> list[str]:
    tenths = row["by_tenth"]
    first, middle, last = tenths[0], tenths[len(tenths) // 2], tenths[-1]
    slopes = row["slope_us_per_message"]
    return [
        _backend(key),
        f"{row['messages']:,}",
        f"{row['rounds']:,}",
        base.fmt(first["round_ms"]),
        base.fmt(middle["round_ms"]),
        base.fmt(last["round_ms"]),
        f"{base.fmt(first['model_ms'])} → {base.fmt(last['model_ms'])}",
        f"{base.fmt(first['tool_ms'])} → {base.fmt(last['tool_ms'])}",
        base.fmt(slopes["round"]),
        base.fmt(slopes["model_leg"]),
        base.fmt(slopes["tool_leg"]),
        base.fmt(row["server_cpu_ms_per_step"]),
        str(row.get("stalled_rounds", "–")),
    ]


def _history_byte_row(key: str, row: dict[str, Any]) -> list[str]:
    wal = row.get("wal_bytes_per_step")
    return [
        _backend(key),
        f"{row['messages']:,}",
        base.fmt(row["db_bytes_per_message"]),
        base.fmt(row["message_bytes_per_message"]),
        base.fmt(row["event_bytes_per_message"]),
        f"{row['state_bytes']:,}",
        base.fmt(row["server_write_bytes_per_step"]),
        base.fmt(wal) if wal is not None else "–",
    ]


def _flat(row: dict[str, Any]) -> tuple[bool, float, float]:
    """Whether the round time stays flat over the run, and its fitted (or, for short runs,
    median) time at the first and the last tenth."""
    fitted = row["slope_us_per_message"].get("fitted_round_ms")
    if fitted:
        start, end = fitted
    else:
        start, end = row["by_tenth"][0]["round_ms"], row["by_tenth"][-1]["round_ms"]
    return end <= FLAT * start, start, end


def _history_notes(key: str, lengths: dict[int, Any]) -> list[str]:
    good = {n: v for n, v in lengths.items() if base.ok(v)}
    if not good:
        return []
    notes = [_stall_note(key, row) for row in good.values() if row.get("stalled_rounds")]
    row = good[max(good)]
    first, last = row["by_tenth"][0], row["by_tenth"][-1]
    slopes = row["slope_us_per_message"]
    flat, start, end = _flat(row)
    if flat:
        return [
            f"- {_backend(key)}: rounds stay flat over the {row['messages']:,}-message run "
            f"(fitted {base.fmt(start)} → {base.fmt(end)} ms; {base.fmt(slopes['round'])} µs / message).",
            *notes,
        ]
    return [
        f"- {_backend(key)}: **a round grows with the conversation**: fitted {base.fmt(start)} ms at the "
        f"start of the {row['messages']:,}-message run, {base.fmt(end)} ms at the end "
        f"({base.fmt(slopes['round'])} µs per message of history). The model leg accounts for "
        f"{base.fmt(slopes['model_leg'])} µs / message "
        f"({base.fmt(first['model_ms'])} → {base.fmt(last['model_ms'])} ms, first → last tenth): each model "
        "call reads only the messages added since the previous one (the LLM executor caches "
        "conversations), but still builds a request from, and hands the model, the whole "
        "conversation, which grows with it by nature (a real model also takes longer on a longer "
        "prompt). The tool leg, "
        f"which needs none of the history, moves by {base.fmt(slopes['tool_leg'])} µs / message "
        f"({base.fmt(first['tool_ms'])} → {base.fmt(last['tool_ms'])} ms).",
        *notes,
    ]


def _stall_note(key: str, row: dict[str, Any]) -> str:
    worst = max(row["stalls"], key=lambda s: max(s["tool_ms"], s["model_ms"]))
    leg = "tool" if worst["tool_ms"] >= worst["model_ms"] else "model"
    return (
        f"- {_backend(key)}, {row['messages']:,}-message runs: **{row['stalled_rounds']} of "
        f"{row['rounds']:,} rounds stalled** (a leg over 1 s); the longest was a {leg} leg of "
        f"{base.fmt(max(worst['tool_ms'], worst['model_ms']) / 1000)} s at {worst['messages']:.0f} "
        "messages; the medians and slopes above are robust to them (not explained: the lost "
        "wake-ups under *Bugs found* are fixed)."
    )


def plot_history(results: dict[str, Any], plots: Path) -> str:
    import matplotlib.pyplot as plt

    data = {k: _levels(v, "lengths") for k, v in (results.get("history") or {}).items()}
    data = {k: {n: r for n, r in v.items() if base.ok(r)} for k, v in data.items()}
    data = {k: v for k, v in data.items() if v}
    if not data:
        return ""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (key, lengths), color in zip(data.items(), ("tab:blue", "tab:green"), strict=False):
        longest = lengths[max(lengths)]["by_tenth"]
        xs = [t["messages"] for t in longest]
        left.plot(
            xs, [t["model_ms"] for t in longest], "-o", color=color, label=f"{_backend(key)}: model leg"
        )
        left.plot(xs, [t["tool_ms"] for t in longest], "--s", color=color, label=f"{_backend(key)}: tool leg")
        sizes = sorted(lengths)
        msgs = [lengths[n]["messages"] for n in sizes]
        right.plot(
            msgs, [lengths[n]["db_bytes_per_message"] for n in sizes], "-o", color=color,
            label=f"{_backend(key)}: stored B / message",
        )  # fmt: skip
        right.plot(
            msgs, [lengths[n]["server_write_bytes_per_step"] for n in sizes], "--s", color=color,
            label=f"{_backend(key)}: server write() B / step",
        )  # fmt: skip
    left.set_xlabel("messages in the conversation at the model call")
    left.set_ylabel("ms (median per tenth of the longest run)")
    left.set_title("Step latency along one long conversation")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("messages at the end of the conversation")
    right.set_ylabel("bytes")
    right.set_title("Bytes per message / per step")
    low, high = right.get_ylim()
    right.set_ylim(low, high * 30)  # room for the legend above the lines
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return base.save(fig, plots, "fig6-history.png", "Figure 6: cost against conversation length")


def targets(results: dict[str, Any]) -> list[list[str]]:
    """Rows of the summary table for figure 6's "flat per step" target and figure 7's
    observer cost."""
    rows = []
    for key, value in (results.get("history") or {}).items():
        good = {n: v for n, v in _levels(value, "lengths").items() if base.ok(v)}
        if len(good) < 2:
            continue
        small, big = good[min(good)], good[max(good)]
        stored = (small["db_bytes_per_message"], big["db_bytes_per_message"])
        written = (small["server_write_bytes_per_step"], big["server_write_bytes_per_step"])
        rows.append(
            [
                f"{base.label(key)}: storage per step flat with history",
                f"{base.fmt(stored[0])} → {base.fmt(stored[1])} B stored / message, "
                f"{base.fmt(written[0])} → {base.fmt(written[1])} B written / step "
                f"({small['messages']:,} → {big['messages']:,} messages)",
                base.verdict(stored[1] <= FLAT * stored[0] and written[1] <= FLAT * written[0]),
            ]
        )
        flat, start, end = _flat(big)
        rows.append(
            [
                f"{base.label(key)}: step latency flat with history",
                f"{base.fmt(start)} → {base.fmt(end)} ms per round (fitted, start → end of "
                f"{big['messages']:,} messages; {base.fmt(big['slope_us_per_message']['round'])} µs / message)",
                base.verdict(flat),
            ]
        )
    for key, value in (results.get("observability") or {}).items():
        if base.ok(value):
            ratio = value["ratio_on_off"]
            rows.append(
                [
                    f"{base.label(key)}: metrics, logs and tracing cost < 5 % of the turn",
                    f"on / off = {ratio:.3f}",
                    base.verdict(ratio < 1.05),
                ]
            )
    return rows


def section_observability(results: dict[str, Any], plots: Path) -> str:
    """What metrics, execution logs and tracing cost the durable turn (same run, on and off)."""
    data = results.get("observability") or {}
    title = "## 7. What metrics and tracing cost"
    if not data:
        return f"{title}\n\nNot run.\n"
    out = [
        title,
        "",
        "Figure 1's turn on two stacks running side by side, one with the server's observers "
        "off (`AGENTSPAN_METRICS=0`, `AGENTSPAN_EXECUTION_LOGS=0`, no OTLP endpoint) and one "
        "with them on (metrics, execution logs, and spans exported over OTLP/HTTP to a receiver "
        "in the benchmark process), one turn on each in turn, so the machine's drift falls on "
        "both alike. The ratio is the median of the rounds' on/off ratios (target: below "
        "1.05). Stack CPU is the server's and the worker's, and for \"on\" also the span "
        "exporter process's, which builds and exports the spans on another core.",
        "",
    ]
    rows = []
    for key, value in data.items():
        if not base.ok(value):
            continue
        rows.append(
            [
                base.label(key),
                base.fmt(value["median_ms"]["off"], 3),
                base.fmt(value["median_ms"]["on"], 3),
                f"{value['ratio_on_off']:.3f}",
                base.fmt(value["server_cpu_ms_per_turn"]["off"], 3),
                base.fmt(value["server_cpu_ms_per_turn"]["on"], 3),
                base.fmt((value.get("stack_cpu_ms_per_turn") or {}).get("off"), 3),
                base.fmt((value.get("stack_cpu_ms_per_turn") or {}).get("on"), 3),
            ]
        )
    header = [
        "",
        "off ms/turn",
        "on ms/turn",
        "on/off",
        "server CPU off",
        "server CPU on",
        "stack CPU off",
        "stack CPU on",
    ]
    out.append(base.table(header, rows))
    return "\n".join(out)
