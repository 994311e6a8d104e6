"""Sessions: runs that share a ``session_id`` share one conversation, kept by the server.

    python examples/06-memory/02_sessions.py

Each completed run of a session records its prompt and answer on the server; the next run
of the session (from any process or machine) starts from them. Here the second run happens
in a separate process that knows only the session id.

Offline this uses the built-in ``offline/basic`` model (see 01_conversation_memory.py for
why not a scripted one).
"""

import os
import subprocess
import sys
import uuid

from agentspan.agents import Agent, AgentRuntime

MODEL = os.environ.get("AGENTSPAN_LLM_MODEL") or (
    "openai/gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"
)
concierge = Agent(name="hotel_concierge", model=MODEL, instructions="Help hotel guests, briefly.")


if len(sys.argv) > 1:  # the second process
    with AgentRuntime() as runtime:
        result = runtime.run(concierge, "Breakfast at 8, please.", session_id=sys.argv[1])
        earlier = [f"[{m['role']}] {m['content']}" for m in result.messages][:-2]  # minus this exchange
        print(f"[second process] started from: {earlier}")
        print(f"[second process] {result.output}")
else:
    session = f"guest-{uuid.uuid4().hex[:8]}"
    with AgentRuntime() as runtime:
        first = runtime.run(concierge, "I'm in room 412.", session_id=session)
        print(f"[first process] {first.output}")
    subprocess.run([sys.executable, __file__, session], check=True)

# expect: [first process] Offline model reply to: I'm in room 412.
# expect: [second process] started from: ["[user] I'm in room 412.", "[assistant] Offline model reply to: I'm in room 412."]
# expect: [second process] Offline model reply to: Breakfast at 8, please.
