"""Sessions: runs that share a ``session_id`` share one conversation, kept by the server.

    python examples/06-memory/02_sessions.py

Each completed run of a session records its prompt and answer on the server; the next run
of the session (from any process or machine) starts from them. Here the second run happens
in a separate process that knows only the session id.
"""

import subprocess
import sys
import uuid

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live


def concierge(reply: str) -> Agent:
    return Agent(name="hotel_concierge", model=scripted_or_live([reply]), instructions="Help hotel guests.")


if len(sys.argv) > 1:  # the second process
    with AgentRuntime() as runtime:
        agent = concierge("Breakfast for room 412 at 8, noted.")
        result = runtime.run(agent, "Breakfast at 8, please.", session_id=sys.argv[1])
        earlier = [f"[{m['role']}] {m['content']}" for m in result.messages][:-2]  # minus this exchange
        print(f"[second process] started from: {earlier}")
        print(f"[second process] {result.output}")
else:
    session = f"guest-{uuid.uuid4().hex[:8]}"
    with AgentRuntime() as runtime:
        first = runtime.run(concierge("Noted: you are in room 412."), "I'm in room 412.", session_id=session)
        print(f"[first process] {first.output}")
    subprocess.run([sys.executable, __file__, session], check=True)

# expect: [first process] Noted: you are in room 412.
# expect: [second process] started from: ["[user] I'm in room 412.", '[assistant] Noted: you are in room 412.']
# expect: [second process] Breakfast for room 412 at 8, noted.
