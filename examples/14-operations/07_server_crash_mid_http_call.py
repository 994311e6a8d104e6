"""The server dies during an http_tool call: after a restart the call is sent again with the
same Idempotency-Key, so a service that honours the key performs the action once.

    python examples/14-operations/07_server_crash_mid_http_call.py

This example controls its own server (short HTTP-tool lease, data in a temporary
directory). The payments API is a stand-in (a stdlib HTTP server in this program) that
keeps each payment by its ``Idempotency-Key``. Its first request hangs; meanwhile the
Agentspan server is killed with SIGKILL and started again on the same database. Once the
lost call's lease runs out, the call is made again with the same key: the stand-in
returns the payment it already made instead of charging twice. With no API key the model
is scripted.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentspan.agents import Agent, AgentConfig, AgentRuntime, http_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

keys_seen: list[str] = []
payments: dict[str, dict[str, object]] = {}  # by Idempotency-Key: the stand-in's own dedup
first_request = threading.Event()


class PaymentsStandIn(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        key = self.headers["Idempotency-Key"]
        order = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        keys_seen.append(key)
        payment = payments.setdefault(key, {"payment": f"pay_{len(payments) + 1}", **order})
        if len(keys_seen) == 1:
            first_request.set()
            time.sleep(3)  # the Agentspan server is killed while this answer is pending
        body = json.dumps(payment).encode()
        try:
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the caller is gone

    def log_message(self, *args: object) -> None:
        pass


api = ThreadingHTTPServer(("127.0.0.1", 0), PaymentsStandIn)
threading.Thread(target=api.serve_forever, daemon=True).start()
agent = Agent(
    name="checkout",
    model=scripted_or_live([ToolCall("charge_card", {"order": "A17", "amount_eur": 25}), "Paid."]),
    instructions="Charge the card for the order, then confirm.",
    tools=[
        http_tool(
            name="charge_card",
            description="Charge the customer's card for an order",
            url=f"http://127.0.0.1:{api.server_port}/v1/payments",
            method="POST",
        )
    ],
)


def start_server(data: str, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(port), "--data-dir", data]
    env = {**os.environ, "AGENTSPAN_HTTP_TOOL_LEASE_SECONDS": "1"}  # notice a lost call within a second
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    try:
        with AgentRuntime(
            config=AgentConfig(server_url=f"http://127.0.0.1:{port}", auto_start_server=False)
        ) as rt:
            handle = rt.start(agent, "Charge 25 EUR for order A17.")
            first_request.wait(30)
            server.send_signal(signal.SIGKILL)  # mid-call: the request was sent, no answer recorded
            server.wait()
            print("server killed during charge_card; starting it again")
            server = start_server(data, port)
            result = handle.join(timeout=60)
        print(result.output)
        print(f"requests the payments API received: {len(keys_seen)}")
        print(f"same Idempotency-Key each time: {len(set(keys_seen)) == 1}")
        print(f"payments made: {len(payments)}")
        print("recorded result:", result.tool_calls[0]["result"])
    finally:
        server.terminate()
        server.wait()
        api.shutdown()

# timeout: 90
# expect: requests the payments API received: 2
# expect: same Idempotency-Key each time: True
# expect: payments made: 1
# expect: recorded result: {'status': 201, 'body': {'payment': 'pay_1', 'order': 'A17', 'amount_eur': 25}}
