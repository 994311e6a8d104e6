"""Retries of a server-side call: a flaky API answers 503 twice, the third attempt succeeds.

    python examples/07-server-tools/08_http_tool_retries.py

An ``http_tool`` call that gets 408, 425, 429, a 5xx, a timeout or a connection error is
retried with backoff (``retry_count``, ``retry_delay_seconds``), every attempt with the same
``Idempotency-Key``; each retry is a ``tool_retry`` event in the history. Other statuses
(a 404, say) go straight back to the model as the call's error. The flaky service is a
stand-in (a stdlib HTTP server in this program). With no API key the model is scripted.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentspan.agents import Agent, AgentRuntime, http_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

attempts: list[str] = []


class FlakyStandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        attempts.append(self.headers.get("Idempotency-Key", ""))
        ok = len(attempts) >= 3
        body = json.dumps({"rate": 1.0842, "pair": "EUR/USD"} if ok else {"error": "overloaded"}).encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


api = ThreadingHTTPServer(("127.0.0.1", 0), FlakyStandIn)
threading.Thread(target=api.serve_forever, daemon=True).start()

agent = Agent(
    name="fx_desk",
    model=scripted_or_live([ToolCall("eur_usd_rate"), "1 EUR is 1.0842 USD."]),
    instructions="Answer with the current rate from eur_usd_rate.",
    tools=[
        http_tool(
            name="eur_usd_rate",
            description="The current EUR/USD exchange rate",
            url=f"http://127.0.0.1:{api.server_port}/v1/rates/eur-usd",
            retry_count=3,
            retry_delay_seconds=0.2,
        )
    ],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "How many dollars is one euro?")
    print(result.output)
    print(f"attempts the API saw: {len(attempts)}, one idempotency key: {len(set(attempts)) == 1}")
    print("tool_retry events:", sum(e.type == "tool_retry" for e in result.events))
    print("recorded result:", result.tool_calls[0]["result"])
api.shutdown()

# expect: attempts the API saw: 3, one idempotency key: True
# expect: tool_retry events: 2
# expect: recorded result: {'status': 200, 'body': {'rate': 1.0842, 'pair': 'EUR/USD'}}
