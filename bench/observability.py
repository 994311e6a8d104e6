"""What metrics, execution logs and tracing cost the durable turn: on and off, in one run.

Each round measures figure 1's turn (``ours.overhead``: a real server process, a real
worker process, this process as the client) twice, with the observers off
(``AGENTSPAN_METRICS=0``, ``AGENTSPAN_EXECUTION_LOGS=0``, no OTLP endpoint) and on
(metrics and logs on, and spans exported over OTLP/HTTP to a receiver in this process
that accepts and drops them), alternating which goes first, so the machine's drift
between rounds cancels in the per-round ratio.

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
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import ours  # noqa: E402

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


def compare(backend: str = "sqlite", rounds: int = 3, warmup: int = 20, turns: int = 100) -> dict[str, Any]:
    """Median ms per turn with observers off and on, per round and pooled, and the ratio."""
    samples: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    ratios = []
    with otlp_sink() as endpoint:
        on = {"AGENTSPAN_METRICS": "1", "AGENTSPAN_EXECUTION_LOGS": "1", "AGENTSPAN_OTEL_ENDPOINT": endpoint}
        for n in range(rounds):
            order = [("off", OFF), ("on", on)] if n % 2 == 0 else [("on", on), ("off", OFF)]
            medians = {}
            for name, env in order:
                result = ours.overhead(backend, warmup, 1, turns, env=env)
                medians[name] = result["turn_ms"]["median"]
                samples[name].append(medians[name])
                cpu[name].append(result["cpu_ms_per_turn"]["server"])
            ratios.append(medians["on"] / medians["off"])
        spans_posted = _Sink.received
    return {
        "backend": backend,
        "turns_per_round": turns,
        "median_ms": {k: statistics.median(v) for k, v in samples.items()},
        "round_medians_ms": samples,
        "server_cpu_ms_per_turn": {k: statistics.median(v) for k, v in cpu.items()},
        "ratio_on_off": statistics.median(ratios),
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
