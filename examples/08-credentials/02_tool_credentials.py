"""@tool(credentials=[...]): a worker tool gets a stored secret for the length of its call.

    python examples/08-credentials/02_tool_credentials.py

The secret is stored through the REST API (``POST /api/credentials``; the CLI's
``agentspan credentials set`` does the same). For each call of a tool that declares it,
the worker fetches the value with the call's lease and exposes it to ``get_credential``
(and as an environment variable) only while the call runs. Here the tool signs a payload
with it, as a webhook sender would; the signature, not the key, is the result. The
credential is deleted at the end. With no API key the model is scripted.
"""

import hashlib
import hmac
import json
import secrets
import urllib.request

from agentspan.agents import (
    Agent,
    AgentRuntime,
    CredentialNotFoundError,
    get_credential,
    tool,
)
from agentspan.agents.testing import ToolCall, scripted_or_live

NAME = "GALLERY_WEBHOOK_KEY"  # a name of this example's own: the server may be shared
KEY = secrets.token_hex(16)


@tool(credentials=[NAME])
def sign_payload(payload: str) -> str:
    """Sign a webhook payload with the shared key (HMAC-SHA256)."""
    return hmac.new(get_credential(NAME).encode(), payload.encode(), hashlib.sha256).hexdigest()


def credentials_api(runtime: AgentRuntime, method: str, path: str, body: dict[str, str] | None = None) -> int:
    data = json.dumps(body).encode() if body else None
    request = urllib.request.Request(
        runtime.config.server_url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return int(answer.status)


agent = Agent(
    name="webhook_signer",
    model=scripted_or_live([ToolCall("sign_payload", {"payload": '{"order": "A17"}'}), "Signed."]),
    instructions="Sign the payload the user gives with sign_payload.",
    tools=[sign_payload],
)

with AgentRuntime() as runtime:
    print("stored:", credentials_api(runtime, "POST", "/credentials", {"name": NAME, "value": KEY}))
    try:
        result = runtime.run(agent, 'Sign {"order": "A17"}')
        signature = result.tool_calls[0]["result"]
        expected = hmac.new(KEY.encode(), b'{"order": "A17"}', hashlib.sha256).hexdigest()
        print("signed with the stored key:", signature == expected)
        print("the key in the recorded history:", KEY in json.dumps([result.messages, result.tool_calls]))
        try:
            get_credential(NAME)  # outside a tool call there is nothing to read
        except CredentialNotFoundError as exc:
            print("outside a call:", type(exc).__name__)
    finally:
        print("deleted:", credentials_api(runtime, "DELETE", f"/credentials/{NAME}"))

# expect: stored: 201
# expect: signed with the stored key: True
# expect: the key in the recorded history: False
# expect: outside a call: CredentialNotFoundError
# expect: deleted: 204
