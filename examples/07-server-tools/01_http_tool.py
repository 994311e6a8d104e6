"""http_tool: the server itself calls an HTTP API for the model, no worker needed.

    python examples/07-server-tools/01_http_tool.py

The weather API here is a stand-in: a stdlib HTTP server in a thread of this program,
playing the part of a real service. The Agentspan server (not this process) sends the
request, with an ``Idempotency-Key`` header that stays the same if the call is retried.
With no API key the model is scripted (one tool call, then an answer).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentspan.agents import Agent, AgentRuntime, http_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

seen: list[dict[str, str]] = []  # what the stand-in received


class WeatherStandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        seen.append({"path": self.path, "key": self.headers.get("Idempotency-Key", "")})
        body = json.dumps({"city": self.path.rsplit("/", 1)[-1], "temp_c": 4, "sky": "sleet"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep the output readable
        pass


api = ThreadingHTTPServer(("127.0.0.1", 0), WeatherStandIn)
threading.Thread(target=api.serve_forever, daemon=True).start()

weather = http_tool(
    name="get_weather",
    description="Current weather for a city",
    url=f"http://127.0.0.1:{api.server_port}/v1/weather/{{city}}",
    input_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
agent = Agent(
    name="http_weather",
    model=scripted_or_live([ToolCall("get_weather", {"city": "Oslo"}), "Oslo: 4 °C and sleet."]),
    instructions="Use get_weather, then answer in one sentence.",
    tools=[weather],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "What's the weather in Oslo?")
    print(result.output)
    call = result.tool_calls[0]
    print(f"tool result recorded: {call['result']}")
    print(f"stand-in received {len(seen)} request(s): {seen[0]['path']}")
    print(f"idempotency key is <execution>:<call>: {seen[0]['key'].startswith(result.execution_id)}")
api.shutdown()

# expect: tool result recorded: {'status': 200, 'body': {'city': 'Oslo', 'temp_c': 4, 'sky': 'sleet'}}
# expect: stand-in received 1 request(s): /v1/weather/Oslo
# expect: idempotency key is <execution>:<call>: True
