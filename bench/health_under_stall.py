"""How fast ``/health`` answers while an agent with thousands of tools waits for workers.

.venv/bin/python bench/health_under_stall.py [TOOLS] [SECONDS]

Starts a server (SQLite, no-worker timeout 3 s), starts an ``offline/basic`` agent with
TOOLS worker tools (default 10,000) and no worker, and times ``GET /health`` back to back
for SECONDS (default 15) from the start request on (the model's reply dispatches every
call, then the watchdog reports them). Then starts a second such execution, kills the
server with SIGKILL as soon as its calls are dispatched (before the watchdog reported
them), restarts it on the same database and times ``/health`` again for SECONDS (the
restarted server finds the durable, unreported calls). A ``/health`` request unanswered
after 30 s counts as a failure of 30 s. Prints p50/p99/max per phase, how long the start
request took, and how long ``agentspan server stop`` took on the stalled server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.servers import ServerProcess, free_port, wait_healthy  # noqa: E402
from support.stall import STALL_ENV, HealthProbe, many_tools_agent, wait_for_tasks  # noqa: E402


def missing_reported(api_url: str, execution_id: str) -> str:
    """How many tools the execution has reported as missing a worker (from its events)."""
    seen: set[str] = set()
    after = 0
    with httpx.Client(timeout=30) as client:
        while True:
            url = f"{api_url}/agent/executions/{execution_id}/events?after={after}&limit=10000"
            try:
                page = client.get(url).json()
            except httpx.TimeoutException:
                return f"(unknown: no answer within 30 s; {len(seen)} so far)"
            if not page:
                return str(len(seen))
            for event in page:
                if event.get("type") == "worker_missing":
                    seen.add(event.get("toolName", ""))
            after = page[-1]["id"]


def main() -> None:
    tools = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    env = {**STALL_ENV, "PYTHONUNBUFFERED": "1"}
    print(f"{tools} worker tools, no worker, no-worker timeout 3 s, {seconds:g} s per phase")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        server = ServerProcess(data, env=env).start()
        try:
            agent = many_tools_agent(tools)
            with HealthProbe(server.root_url) as probe:
                began = time.perf_counter()
                r = httpx.post(
                    server.api_url + "/agent/start",
                    json={"agentConfig": agent, "prompt": "use them all"},
                    timeout=600,
                )
                took = time.perf_counter() - began
                r.raise_for_status()
                execution_id = r.json()["executionId"]
                # The model's reply dispatches every call, then the watchdog reports them.
                time.sleep(seconds)
                stalled = probe.stop()
            print(f"start request: {took * 1000:.0f} ms (HTTP {r.status_code})")
            print(f"/health from the start for {seconds:g} s: {stalled.line()}")
            print(f"worker_missing reported for {missing_reported(server.api_url, execution_id)} tools")
            again = httpx.post(
                server.api_url + "/agent/start",
                json={"agentConfig": many_tools_agent(tools, name="second"), "prompt": "again"},
                timeout=600,
            )
            second = again.json()["executionId"]
            wait_for_tasks(server.root_url, second, timeout=120)
            server.kill(signal.SIGKILL)
            print(f"killed with SIGKILL once {second} dispatched its calls")
            restarted = ServerProcess(data, env=env, port=server.port)
            began = time.perf_counter()
            restarted.start()
            print(f"restart after SIGKILL healthy in {(time.perf_counter() - began) * 1000:.0f} ms")
            server = restarted
            with HealthProbe(server.root_url) as probe:
                time.sleep(seconds)
                after_restart = probe.stop()
            print(f"/health after the restart: {after_restart.line()}")
            print(f"worker_missing reported for {missing_reported(server.api_url, second)} tools of {second}")
        finally:
            stop_or_kill(server)
        stop_time(data, env)


def stop_or_kill(server: ServerProcess) -> None:
    try:
        server.stop()
    except subprocess.TimeoutExpired:
        print("the server did not exit within 15 s of SIGTERM; killed")
        server.kill(signal.SIGKILL)


def stop_time(data: Path, env: dict[str, str]) -> None:
    """``agentspan server start`` on the database with the stalled execution, start one
    more such execution, then time ``agentspan server stop`` while the watchdog works."""
    port = free_port()
    full_env = {**os.environ, **env}
    cli = [sys.executable, "-m", "agentspan.cli", "server"]
    where = ["--data-dir", str(data), "--port", str(port)]
    subprocess.run([*cli, "start", *where], env=full_env, check=True, capture_output=True)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(root)
        agent = many_tools_agent(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, name="more_tools")
        r = httpx.post(root + "/api/agent/start", json={"agentConfig": agent, "prompt": "again"}, timeout=600)
        r.raise_for_status()
        time.sleep(3)  # the calls are dispatched and the watchdog is at work
    finally:
        began = time.perf_counter()
        done = subprocess.run([*cli, "stop", "--data-dir", str(data)], env=full_env, capture_output=True)
        took = time.perf_counter() - began
    print(
        f"agentspan server stop: {took:.2f} s, {done.stdout.decode().strip()} {done.stderr.decode().strip()}"
    )


if __name__ == "__main__":
    main()
