"""Crash and resume: a worker is killed with SIGKILL mid-tool, another one finishes the run.

    python examples/14-operations/01_crash_and_resume.py

This example controls its own server (``agentspan server run`` on a free port, data in a
temporary directory) with a short worker lease, so a dead worker is noticed in a second.
The agent calls ``fetch_order`` (quick), then ``ship_order`` (slow). A worker process serves
both; it is killed with SIGKILL in the middle of ``ship_order``. A second worker process
takes the call over with the same idempotency key, and ``fetch_order``, whose result was
already recorded, is not run again. Every tool run is appended to a journal file to show
what ran where. With no API key the model is scripted.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from agentspan.agents import Agent, AgentConfig, AgentRuntime, ToolContext, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

JOURNAL = Path(os.environ.get("JOURNAL", "unused"))


def note(line: str) -> None:
    with JOURNAL.open("a") as out:
        out.write(line + "\n")


@tool
def fetch_order(order_id: str, context: ToolContext) -> str:
    """Look an order up."""
    note(f"fetch_order pid={os.getpid()} attempt={context.attempt}")
    return f"{order_id}: 2 x blue mug, paid"


@tool
def ship_order(order_id: str, context: ToolContext) -> str:
    """Book the shipment of an order (slow)."""
    note(f"ship_order pid={os.getpid()} attempt={context.attempt} key={context.idempotency_key}")
    time.sleep(2)  # the first worker is killed while it sleeps here
    return f"{order_id} shipped, label DHL-{context.idempotency_key[-6:]}"


agent = Agent(
    name="shipper",
    model=scripted_or_live(
        [
            ToolCall("fetch_order", {"order_id": "A17"}),
            ToolCall("ship_order", {"order_id": "A17"}),
            "A17 shipped.",
        ]
    ),
    instructions="Fetch the order, then ship it, then confirm in one sentence.",
    tools=[fetch_order, ship_order],
)

if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:  # the worker process
    AgentRuntime(server_url=sys.argv[2]).serve(agent)
    sys.exit()


def worker(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "worker", url], env={**os.environ, "JOURNAL": str(JOURNAL)}
    )


with tempfile.TemporaryDirectory() as data, socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    JOURNAL = Path(data) / "journal.txt"
    JOURNAL.touch()
    env = {**os.environ, "AGENTSPAN_WORKER_LEASE_SECONDS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(port), "--data-dir", data],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while True:  # wait until the server answers
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    first = worker(url)
    try:
        config = AgentConfig(server_url=url, auto_start_workers=False)  # tools run in the workers
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, "Ship order A17.")
            while "ship_order" not in JOURNAL.read_text():
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)  # mid-call: the worker dies without a word
            first.wait()
            print(f"killed worker {first.pid} during ship_order")
            second = worker(url)
            result = handle.join(timeout=60)
            second.terminate()
            second.wait()
        print(result.output)
        print(f"status: {result.status}")
        print("journal:\n" + JOURNAL.read_text().replace(handle.execution_id, "<execution>"))
        runs = JOURNAL.read_text().splitlines()
        print(f"fetch_order ran {sum(r.startswith('fetch_order') for r in runs)} time(s)")
        print(
            f"ship_order ran {sum(r.startswith('ship_order') for r in runs)} time(s), same key each time: "
            f"{len({r.split('key=')[1] for r in runs if 'key=' in r}) == 1}"
        )
        print("lost lease recorded:", any(e.type == "tool_retry" for e in result.events))
    finally:
        for process in (first, server):
            if process.poll() is None:
                process.terminate()
                process.wait()

# timeout: 60
# expect: status: COMPLETED
# expect: fetch_order ran 1 time(s)
# expect: ship_order ran 2 time(s), same key each time: True
# expect: lost lease recorded: True
