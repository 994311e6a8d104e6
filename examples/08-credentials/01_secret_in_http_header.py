"""A stored credential in an http_tool header: the API receives it, the history never holds it.

    python examples/08-credentials/01_secret_in_http_header.py

``agentspan credentials set NAME`` (value on stdin) seals a secret in the server's store.
An ``http_tool`` names it as ``${NAME}`` in a header; the server puts the value in at the
moment it sends the request and drops it after. The stand-in API (a stdlib HTTP server
in this program) checks the token; the run's messages, tool calls and events keep only
the placeholder. The credential is deleted at the end. With no API key the model is
scripted.
"""

import json
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentspan.agents import Agent, AgentRuntime, http_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

NAME = "GALLERY_INVOICES_TOKEN"  # a name of this example's own: the server may be shared
TOKEN = secrets.token_urlsafe(24)
received: list[str] = []


def agentspan(*args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "agentspan.cli", *args], input=stdin, capture_output=True, text=True
    )
    return done.stdout + done.stderr


class InvoicesStandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        received.append(self.headers.get("Authorization", ""))
        ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        body = json.dumps({"open_invoices": 2, "total_eur": 310.5} if ok else {"error": "bad token"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


api = ThreadingHTTPServer(("127.0.0.1", 0), InvoicesStandIn)
threading.Thread(target=api.serve_forever, daemon=True).start()

agentspan(
    "credentials", "set", NAME, stdin=TOKEN
)  # the same as: printf %s "$TOKEN" | agentspan credentials set ...
listing = agentspan("credentials", "list")  # names and dates, never values
print("stored:", NAME in listing, "| value in the listing:", TOKEN in listing)

invoices = http_tool(
    name="open_invoices",
    description="Open invoices of the account",
    url=f"http://127.0.0.1:{api.server_port}/v1/invoices?state=open",
    headers={"Authorization": f"Bearer ${{{NAME}}}"},
    credentials=[NAME],
)
agent = Agent(
    name="accounts_clerk",
    model=scripted_or_live([ToolCall("open_invoices"), "You have 2 open invoices, 310.50 EUR in total."]),
    instructions="Answer with the open_invoices tool.",
    tools=[invoices],
)
try:
    with AgentRuntime() as runtime:
        result = runtime.run(agent, "How much do I owe?")
        print(result.output)
        print("tool result:", result.tool_calls[0]["result"]["body"])
        print("the API received the secret:", received == [f"Bearer {TOKEN}"])
        history = json.dumps(
            [result.messages, result.tool_calls, [vars(e) for e in result.events]], default=str
        )
        print("the secret in the recorded history:", TOKEN in history)
        print("the placeholder in the stored spec:", f"${{{NAME}}}" in json.dumps(runtime.plan(agent)))
finally:
    agentspan("credentials", "delete", NAME)
    api.shutdown()

# expect: stored: True | value in the listing: False
# expect: tool result: {'open_invoices': 2, 'total_eur': 310.5}
# expect: the API received the secret: True
# expect: the secret in the recorded history: False
# expect: the placeholder in the stored spec: True
