"""Shared pieces of the benchmark suite: statistics, machine facts, processes, databases.

Every module of ``bench/`` imports this one; it needs only the standard library, httpx
and (for PostgreSQL) psycopg, so the baseline subprocesses can import it too.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def full_mode() -> bool:
    """``BENCH_FULL=1`` selects the long version of every figure."""
    return os.environ.get("BENCH_FULL", "") == "1"


# --- statistics ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Summary:
    """Median and p99 of a sample, plus the per-repetition medians (to show the spread)."""

    median: float
    p99: float
    max: float
    n: int
    rep_medians: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, reps: Sequence[Sequence[float]]) -> Summary:
        flat = [v for rep in reps for v in rep]
        if not flat:
            raise ValueError("no samples to summarise")
        return cls(
            median=statistics.median(flat),
            p99=percentile(flat, 99),
            max=max(flat),
            n=len(flat),
            rep_medians=[statistics.median(rep) for rep in reps if rep],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "p99": self.p99,
            "max": self.max,
            "n": self.n,
            "rep_medians": self.rep_medians,
        }


@dataclass
class Window:
    """One throughput window: turns finished per second, and their latencies (ms)."""

    turns_per_s: float
    latencies_ms: list[float]


def throughput_result(windows: list[Window], errors: list[str]) -> dict[str, Any]:
    """The median window's rate, every window's rate, latencies over all windows, errors."""
    rates = sorted(w.turns_per_s for w in windows)
    latencies = [w.latencies_ms for w in windows if w.latencies_ms]
    return {
        "turns_per_s": rates[len(rates) // 2],
        "turns_per_s_reps": rates,
        "latency_ms": Summary.of(latencies).as_dict() if latencies else None,
        "errors": len(errors),
        "error_samples": errors[:3],
    }


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_mb = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_mb": mem_mb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_before": list(os.getloadavg()),
    }


# --- processes ----------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(root_url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(root_url + "/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.02)
    raise TimeoutError(f"server at {root_url} not healthy after {timeout}s")


class Server:
    """``agentspan server run`` as a child process on a fixed port, restartable in place."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None, env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        if database_url:
            self.env["AGENTSPAN_DATABASE_URL"] = database_url
        else:
            self.env.pop("AGENTSPAN_DATABASE_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.root_url + "/api"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def spawn(self) -> Server:
        """Start the process without waiting for it to answer."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir), "--log-level", "warning"]
        with (self.data_dir / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def start(self, timeout: float = 60.0) -> Server:
        self.spawn()
        wait_healthy(self.root_url, timeout, self.proc)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Worker:
    """``bench/worker.py``: a separate process serving the workload's tools with ``runtime.serve()``."""

    def __init__(self, server_url: str, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.server_url = server_url
        self.log_path = log_path
        self.env = {**os.environ, **(env or {}), "AGENTSPAN_SERVER_URL": server_url}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "worker not started"
        return self.proc.pid

    def start(self) -> Worker:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(BENCH / "worker.py")], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """The worker prints ``ready`` to its log once its poll loop is registered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with code {self.proc.returncode}: {self.log_tail()}")
            if self.log_path.exists() and "ready" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise TimeoutError(f"worker not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_base_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", "").strip() or DEFAULT_PG_URL


def pg_unavailable() -> str:
    """Why PostgreSQL cannot be used here, or "" when it can."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(pg_base_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"cannot connect to {pg_base_url()}: {str(exc).strip().splitlines()[0]}"
    return ""


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh database next to ``BENCH_DATABASE_URL``'s, dropped afterwards; yields its URL."""
    import psycopg

    base = pg_base_url()
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- subprocess results -------------------------------------------------------------------


RESULT_MARK = "BENCH-RESULT "


def emit(result: dict[str, Any]) -> None:
    """How a measurement subprocess hands its result to the driver (one marked JSON line)."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def run_measurement(args: list[str], timeout: float, log_path: Path) -> dict[str, Any]:
    """Run ``python bench/<args>`` and return the JSON it emitted, or ``{"error": ...}``."""
    cmd = [sys.executable, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(args)}\n{proc.stdout}\n{proc.stderr}\n")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            parsed: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return parsed
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit code {proc.returncode}: {tail}"}
