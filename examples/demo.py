"""The Agentspan demo: tools, a durable human approval, and a worker killed mid-call.

Run it with ``make demo``. It starts an embedded server (SQLite in .agentspan-demo/),
starts an agent, kills the worker process running one of its tools with SIGKILL, starts a
new worker, approves the refund from another process (the ``agentspan`` CLI), and prints
the result. With no OPENAI_API_KEY it uses the built-in offline model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("DEMO_DATA_DIR", str(HERE.parent / ".agentspan-demo")))
PORT = os.environ.get("DEMO_PORT", "6790")
# The demo runs its own embedded server, separate from any you may have on 6767.
os.environ["AGENTSPAN_SERVER_URL"] = f"http://127.0.0.1:{PORT}/api"
os.environ["AGENTSPAN_DATA_DIR"] = str(DATA_DIR)
# Short leases so the killed worker's task moves on within about two seconds.
os.environ.setdefault("AGENTSPAN_WORKER_LEASE_SECONDS", "2")
sys.path.insert(0, str(HERE))

from agentspan.agents import Agent, AgentConfig, AgentRuntime  # noqa: E402

from demo_tools import MODEL, issue_refund, lookup_order, support_agent  # noqa: E402

MARKER = DATA_DIR / "report-runs.log"


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def start_worker(slow: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEMO_MARKER": str(MARKER),
        "DEMO_REPORT_SECONDS": "60" if slow else "0.5",
        "PYTHONPATH": str(HERE),
    }
    return subprocess.Popen([sys.executable, str(HERE / "demo_worker.py")], env=env)


def kill_first_worker_mid_call(
    worker: subprocess.Popen[bytes], replacement: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (MARKER.exists() and MARKER.read_text().strip()):
        time.sleep(0.05)
    say(f"generate_report is running in worker pid {worker.pid}: sending SIGKILL")
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    new = start_worker(slow=False)
    replacement.append(new)
    say(f"started a replacement worker (pid {new.pid}); the task moves to it when the lease expires")


def approve_from_cli(execution_id: str) -> None:
    say("the run is paused for approval; approving from another process: agentspan approve <id>")
    done = subprocess.run(
        [sys.executable, "-m", "agentspan.cli", "approve", execution_id, "--reason", "refund looks right"],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    say(f"  cli: {(done.stdout or done.stderr).strip()}")


def main() -> int:
    DATA_DIR.mkdir(exist_ok=True)
    MARKER.unlink(missing_ok=True)
    say(f"model: {MODEL}; data: {DATA_DIR}")
    config = AgentConfig.from_env()
    config.auto_start_workers = False  # we choose which process serves which tool
    runtime = AgentRuntime(config=config)  # starts the embedded server if none answers
    workers = [start_worker(slow=True)]
    try:
        agent = support_agent()
        # This process serves the quick tools; the slow one lives in the worker process.
        local = Agent(name=agent.name, model=agent.model, tools=[lookup_order, issue_refund])
        runtime.serve(local, blocking=False)
        handle = runtime.start(agent, "Order ORD1042 arrived late; the customer wants 25 dollars back.")
        say(f"started execution {handle.execution_id}")
        killer = threading.Thread(target=kill_first_worker_mid_call, args=(workers[0], workers))
        killer.start()
        for event in handle.stream():
            if event.type == "tool_call":
                say(f"tool call: {event.tool_name}({event.args})")
            elif event.type == "tool_result":
                say(f"tool result: {event.tool_name} -> {event.result}")
            elif event.type == "waiting":
                threading.Thread(target=approve_from_cli, args=(handle.execution_id,)).start()
        killer.join()
        result = handle.join(timeout=120)
        print()
        result.print_result()
        runs = MARKER.read_text().splitlines() if MARKER.exists() else []
        say(f"generate_report ran {len(runs)} times (once killed, once completed), same idempotency key:")
        for line in runs:
            say(f"  {line}")
        say(f"execution id: {result.execution_id}")
        return 0 if result.status == "COMPLETED" else 1
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(20)
        runtime.shutdown()
        subprocess.run(
            [sys.executable, "-m", "agentspan.cli", "server", "stop", "--data-dir", str(DATA_DIR)],
            capture_output=True,
        )


if __name__ == "__main__":
    raise SystemExit(main())
