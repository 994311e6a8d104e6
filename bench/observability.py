"""What metrics, execution logs and tracing cost the durable turn: on and off, in one run.

Each round starts two stacks side by side — each a real server process and a real worker
process, with this process as the client of both — one with the observers off
(``AGENTSPAN_METRICS=0``, ``AGENTSPAN_EXECUTION_LOGS=0``, no OTLP endpoint) and one with
them on (metrics and logs on, and spans exported over OTLP/HTTP to a receiver in this
process that accepts and drops them). It then runs figure 1's turn on each in turn, one
turn at a time (off, on, on, off, ...), so whatever the machine does meanwhile falls on
both alike: on a shared machine whose speed drifts by 10 % within a minute, measuring one
configuration after the other cannot resolve a few percent.

CPU per turn counts each stack's server and worker, and for "on" also the span exporter
process the server starts (``server/observability/span_export.py``).

    .venv/bin/python bench/observability.py [--rounds 3] [--turns 100] [--backend sqlite]

(``make bench`` runs it as the ``observability`` figure; it needs ``agentspan[otel]``.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import ours  # noqa: E402
import workload  # noqa: E402

OFF = {"AGENTSPAN_METRICS": "0", "AGENTSPAN_EXECUTION_LOGS": "0", "AGENTSPAN_OTEL_ENDPOINT": ""}


class _Sink(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the server's span exporter)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _cpu(st: ours.Stack) -> float:
    pids = [st.server.pid, *(w.pid for w in st.workers), *_children(st.server.pid)]
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += ours.cpu_seconds(pid)
    return total


def _round(backend: str, warmup: int, turns: int, envs: dict[str, dict[str, str]]) -> dict[str, Any]:
    with contextlib.ExitStack() as exits:
        stacks = {name: exits.enter_context(ours.stack(backend, env=env)) for name, env in envs.items()}
        agent = ours.turn_agent()
        runtimes = {name: st.runtime() for name, st in stacks.items()}
        for runtime in runtimes.values():
            exits.callback(runtime.shutdown)
        for _ in range(warmup):
            for runtime in runtimes.values():
                ours._check_turn(runtime.run(agent, workload.PROMPT))
        time.sleep(2.0)  # the span exporter process has started and imported what it needs
        samples: dict[str, list[float]] = {name: [] for name in stacks}
        server0 = {name: ours.cpu_seconds(st.server.pid) for name, st in stacks.items()}
        all0 = {name: _cpu(st) for name, st in stacks.items()}
        order = list(stacks)
        for n in range(turns):
            for name in order if n % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                result = runtimes[name].run(agent, workload.PROMPT)
                samples[name].append((time.perf_counter() - started) * 1000)
                ours._check_turn(result)
        time.sleep(1.0)  # the exporter's last batch is counted too
        return {
            "median_ms": {name: statistics.median(v) for name, v in samples.items()},
            "server_cpu_ms": {
                name: (ours.cpu_seconds(st.server.pid) - server0[name]) * 1000 / turns
                for name, st in stacks.items()
            },
            "stack_cpu_ms": {name: (_cpu(st) - all0[name]) * 1000 / turns for name, st in stacks.items()},
        }


def compare(backend: str = "sqlite", rounds: int = 3, warmup: int = 20, turns: int = 100) -> dict[str, Any]:
    """Median ms per turn with observers off and on, per round and pooled, and the ratio."""
    per_round = []
    with otlp_sink() as endpoint:
        on = {"AGENTSPAN_METRICS": "1", "AGENTSPAN_EXECUTION_LOGS": "1", "AGENTSPAN_OTEL_ENDPOINT": endpoint}
        for n in range(rounds):
            envs = {"off": OFF, "on": on} if n % 2 == 0 else {"on": on, "off": OFF}
            per_round.append(_round(backend, warmup, turns, envs))
        spans_posted = _Sink.received

    def pooled(key: str) -> dict[str, float]:
        return {mode: statistics.median(r[key][mode] for r in per_round) for mode in ("off", "on")}

    return {
        "backend": backend,
        "turns_per_round": turns,
        "median_ms": pooled("median_ms"),
        "round_medians_ms": {mode: [r["median_ms"][mode] for r in per_round] for mode in ("off", "on")},
        "server_cpu_ms_per_turn": pooled("server_cpu_ms"),
        "stack_cpu_ms_per_turn": pooled("stack_cpu_ms"),
        "ratio_on_off": statistics.median(r["median_ms"]["on"] / r["median_ms"]["off"] for r in per_round),
        "otlp_posts_received": spans_posted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(compare(args.backend, args.rounds, args.warmup, args.turns), indent=2))


if __name__ == "__main__":
    main()
