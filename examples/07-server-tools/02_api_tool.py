"""api_tool: point at an OpenAPI document and every operation becomes a tool.

    python examples/07-server-tools/02_api_tool.py

The order service is a stand-in (a stdlib HTTP server in this program) that serves its own
OpenAPI 3 document at /openapi.json. When the run starts, the Agentspan server reads the
document once and stores one HTTP tool per operation with the execution, so a later change
of the API never changes a run in flight. With no API key the model is scripted.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentspan.agents import Agent, AgentRuntime, api_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Orders (stand-in)", "version": "1"},
    "servers": [{"url": "/api"}],
    "paths": {
        "/orders/{orderId}": {
            "get": {
                "operationId": "getOrder",
                "summary": "Look up one order",
                "parameters": [
                    {"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            }
        },
        "/orders": {"get": {"operationId": "listOrders", "summary": "List recent orders"}},
    },
}
ORDERS = {"A17": {"id": "A17", "status": "shipped", "carrier": "PostNord"}}


class OrdersStandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/openapi.json":
            self.reply(OPENAPI)
        elif self.path.startswith("/api/orders/"):
            self.reply(ORDERS.get(self.path.rsplit("/", 1)[-1], {"error": "no such order"}))
        else:
            self.reply(list(ORDERS.values()))

    def reply(self, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


service = ThreadingHTTPServer(("127.0.0.1", 0), OrdersStandIn)
threading.Thread(target=service.serve_forever, daemon=True).start()

agent = Agent(
    name="order_desk",
    model=scripted_or_live(
        [ToolCall("getOrder", {"orderId": "A17"}), "Order A17 has shipped with PostNord."]
    ),
    instructions="Answer questions about orders with the order tools.",
    tools=[api_tool(f"http://127.0.0.1:{service.server_port}/openapi.json")],
)

with AgentRuntime() as runtime:
    tools = runtime.plan(agent)["agentConfig"]["tools"]
    print("tools discovered:", sorted(t["name"] for t in tools))
    result = runtime.run(agent, "Where is order A17?")
    print(result.output)
    print("getOrder returned:", result.tool_calls[0]["result"]["body"])
service.shutdown()

# expect: tools discovered: ['getOrder', 'listOrders']
# expect: getOrder returned: {'id': 'A17', 'status': 'shipped', 'carrier': 'PostNord'}
