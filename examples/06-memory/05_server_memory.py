"""Semantic memory kept by the server: recalled at each run's start, and RAG tools.

    python examples/06-memory/05_server_memory.py

A ``ServerMemoryStore`` keeps its entries in the server's database (SQLite or
PostgreSQL), so they outlive this process and every process sees them. An agent given one
has the relevant entries added to its instructions by the server when each execution
starts — a recorded step, shown as a ``memory_recalled`` event. ``index_tool`` and
``search_tool`` let the model store and search documents itself. With an embedding model
(``embedding_model="openai/text-embedding-3-small"``) entries are ranked by meaning;
without one, as here offline, by shared words (BM25).
"""

import uuid

from agentspan.agents import Agent, AgentRuntime, SemanticMemory, ServerMemoryStore, index_tool, search_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

with AgentRuntime() as runtime:
    # A namespace of our own, so running this twice starts from an empty memory.
    namespace = f"gallery-{uuid.uuid4().hex[:8]}"
    store = ServerMemoryStore(namespace)
    memory = SemanticMemory(store=store, max_results=1)
    memory.add("The staging database is called orca-staging.")
    memory.add("Deploys are frozen on Fridays.")

    recaller = Agent(
        name="ops_helper_server_memory",
        model=scripted_or_live(["It is orca-staging."]),
        instructions="Answer questions about our infrastructure.",
        memory=memory,
    )
    result = runtime.run(recaller, "Which staging database do we use?")
    (recalled,) = [e for e in result.events if e.type == "memory_recalled"]
    print(f"recalled by the server: {recalled.content!r}")
    print(result.output)

    remember = index_tool(
        "remember_gallery", "Store a note.", "agentspan", "notes", None, None, namespace=namespace
    )
    look_up = search_tool(
        "look_up_gallery", "Search the notes.", "agentspan", "notes", None, None, namespace=namespace
    )
    librarian = Agent(
        name="librarian_server_memory",
        model=scripted_or_live(
            [
                ToolCall("remember_gallery", {"text": "The VPN gateway is vpn.example.org.", "docId": "vpn"}),
                ToolCall("look_up_gallery", {"query": "VPN gateway"}),
                "The VPN gateway is vpn.example.org.",
            ]
        ),
        instructions="Store notes when told, and search them to answer.",
        tools=[remember, look_up],
    )
    result = runtime.run(librarian, "Remember the VPN gateway, then tell me what it is.")
    stored, found = result.tool_calls
    print(f"stored: docId={stored['result']['docId']} chunks={stored['result']['chunks']}")
    print(f"found: {found['result']['results'][0]['content']}")

# expect: recalled by the server: 'Relevant context from memory:\n  1. The staging database is called orca-staging.'
# expect: stored: docId=vpn chunks=1
# expect: found: The VPN gateway is vpn.example.org.
