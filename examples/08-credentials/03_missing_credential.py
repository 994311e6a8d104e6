"""A credential nobody has set: the call fails with an error that names it, and no request goes out.

    python examples/08-credentials/03_missing_credential.py

An ``http_tool`` whose header needs ``${NAME}`` cannot run until an operator stores
``NAME``. The call fails at once (not retried: setting it takes a person) with an error
the model sees, naming the credential and the command that sets it, so the agent can tell
the user. The API is never called. With no API key the model is scripted.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentspan.agents import Agent, AgentRuntime, http_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

requests_seen: list[str] = []


class StandIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        requests_seen.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


api = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
threading.Thread(target=api.serve_forever, daemon=True).start()

agent = Agent(
    name="crm_reader",
    model=scripted_or_live(
        [ToolCall("list_contacts"), "I cannot reach the CRM: its token is not configured on the server."]
    ),
    instructions="List contacts with list_contacts; if it fails, explain why.",
    tools=[
        http_tool(
            name="list_contacts",
            description="Contacts in the CRM",
            url=f"http://127.0.0.1:{api.server_port}/contacts",
            headers={"X-Api-Key": "${GALLERY_UNSET_CRM_KEY}"},  # never set on the server
            credentials=["GALLERY_UNSET_CRM_KEY"],
        )
    ],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Who are my contacts?")
    call = result.tool_calls[0]
    print(f"list_contacts: {call['status']}")
    print(f"error the model saw: {call['error']}")
    print(result.output)
    print(f"requests that reached the API: {len(requests_seen)}")
api.shutdown()

# expect: list_contacts: failed
# expect: credential 'GALLERY_UNSET_CRM_KEY' is not set on the server
# expect: agentspan credentials set GALLERY_UNSET_CRM_KEY
# expect: requests that reached the API: 0
