"""API keys and scopes: who may start runs, who may only serve tools, and who approved.

    python examples/14-operations/08_api_keys.py

This example controls its own server, started with ``AGENTSPAN_AUTH_TOKEN`` (a bootstrap
admin key that lives only in the server's environment). With it, ``agentspan keys create``
makes an ``operator`` key for the program that starts and approves runs and a ``worker``
key for the process that serves the tools. From then on every request needs a key: none
gets 401, a key without the route's scope 403, and an approval records the approving
key's name. With no API key the model is scripted.
"""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from agentspan.agents import Agent, AgentAPIError, AgentConfig, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool(approval_required=True)
def rotate_logs(service: str) -> str:
    """Rotate a service's logs (a person approves first)."""
    return f"logs of {service} rotated"


agent = Agent(
    name="log_keeper",
    model=scripted_or_live([ToolCall("rotate_logs", {"service": "billing"}), "Rotated."]),
    instructions="Rotate the logs of the service the user names.",
    tools=[rotate_logs],
)

if sys.argv[1:2] == ["worker"]:  # the tool process, with a worker-only key
    AgentRuntime(config=AgentConfig(server_url=sys.argv[2], api_key=os.environ["WORKER_KEY"])).serve(agent)
    sys.exit()

with tempfile.TemporaryDirectory() as data, socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    url = f"http://127.0.0.1:{port}"
    bootstrap = secrets.token_urlsafe(32)
    cmd = [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(port), "--data-dir", data]
    server_env = {**os.environ, "AGENTSPAN_AUTH_TOKEN": bootstrap}
    server = subprocess.Popen(cmd, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)

        def create_key(name: str, scope: str) -> str:
            cli = [sys.executable, "-m", "agentspan.cli", "keys", "create", name, "--scope", scope]
            env = {**os.environ, "AGENTSPAN_SERVER_URL": url, "AGENTSPAN_API_KEY": bootstrap}
            return subprocess.run(cli, env=env, capture_output=True, text=True, check=True).stdout.split()[0]

        operator_key, worker_key = create_key("release-bot", "operator"), create_key("log-worker", "worker")
        worker = subprocess.Popen(
            [sys.executable, __file__, "worker", url], env={**os.environ, "WORKER_KEY": worker_key}
        )

        for label, key in (("no key", None), ("worker key", worker_key)):
            try:
                config = AgentConfig(server_url=url, api_key=key, auto_start_workers=False)
                with AgentRuntime(config=config) as runtime:
                    runtime.start(agent, "Rotate the billing logs.")
            except AgentAPIError as refused:
                print(f"start with {label}: {refused.status_code} {refused.code}")

        config = AgentConfig(server_url=url, api_key=operator_key, auto_start_workers=False)
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, "Rotate the billing logs.")
            while not handle.get_status().is_waiting:
                time.sleep(0.1)
            handle.approve()
            result = handle.join(timeout=60)
        print(f"start with operator key: {result.status}; tool result: {result.tool_calls[0]['result']}")
        print("approved by:", result.tool_calls[0]["approval"].get("decidedBy"))
    finally:
        for process in (worker, server):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait()

# timeout: 60
# expect: start with no key: 401 unauthorized
# expect: start with worker key: 403 insufficient_scope
# expect: start with operator key: COMPLETED; tool result: logs of billing rotated
# expect: approved by: release-bot
