"""A run waiting for approval survives a server restart, and is approved afterwards.

    python examples/14-operations/02_restart_while_waiting.py

This example controls its own server (``agentspan server run`` on a free port, data in a
temporary directory). The agent asks to call ``refund``, which needs a person's approval,
so the run waits. The server is then killed with SIGKILL and started again on the same
database: the run is still there, still waiting. Approving it now runs the tool once.
While the server is down, this process's worker logs its reconnect attempts (on stderr)
and carries on once the server is back.
With no API key the model is scripted.
"""

import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from agentspan.agents import Agent, AgentConfig, AgentHandle, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

refunds: list[str] = []


@tool(approval_required=True)
def refund(order_id: str, amount: float) -> str:
    """Refund an order (a person approves first)."""
    refunds.append(order_id)
    return f"refunded {amount} EUR on {order_id}"


agent = Agent(
    name="refunds_desk",
    model=scripted_or_live([ToolCall("refund", {"order_id": "B-4", "amount": 19.9}), "B-4 refunded."]),
    instructions="Refund the order the user names, then confirm.",
    tools=[refund],
)


def start_server(data: str, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(port), "--data-dir", data]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)


with tempfile.TemporaryDirectory() as data, socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = start_server(data, port)
    config = AgentConfig(server_url=f"http://127.0.0.1:{port}", auto_start_server=False)
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, "Please refund order B-4 (19.90 EUR).")
            while not handle.get_status().is_waiting:
                time.sleep(0.1)
            print("waiting for:", (handle.get_status().pending_tool or {}).get("tool_name"))

            server.send_signal(signal.SIGKILL)
            server.wait()
            server = start_server(data, port)
            print("server killed and restarted on the same database")

            again = AgentHandle(execution_id=handle.execution_id, runtime=runtime)
            status = again.get_status()
            print(f"after the restart: status {status.status}, waiting: {status.is_waiting}")
            again.approve()
            result = again.join(timeout=60)
            print(result.output)
            print(f"refund ran {len(refunds)} time(s): {result.tool_calls[0]['result']}")
    finally:
        server.terminate()
        server.wait()

# timeout: 60
# expect: waiting for: refund
# expect: after the restart: status RUNNING, waiting: True
# expect: refund ran 1 time(s): refunded 19.9 EUR on B-4
