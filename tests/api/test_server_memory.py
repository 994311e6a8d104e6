"""Semantic memory kept by the server, end to end: the REST API through ``ServerMemoryStore``
(the SDK) and plain HTTP, embeddings from the fake OpenAI endpoint's ``/v1/embeddings``,
the recall at an agent's start (root and sub-agent), and ``index_tool``/``search_tool``
driven by a scripted model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentspan.agents import (
    Agent,
    AgentAPIError,
    AgentRuntime,
    ConfigurationError,
    SemanticMemory,
    ServerMemoryStore,
    agent_tool,
    index_tool,
    search_tool,
)

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer

EMBEDDER = "openai/text-embedding-3-small"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    fake_openai.synonyms = {"automobile": "car", "vehicle": "car"}
    before = len(fake_openai.embedding_requests)
    fake_openai.embeddings_before = before  # type: ignore[attr-defined]
    yield fake_openai
    fake_openai.synonyms = {}
    fake_openai.reset()


def new_embeddings(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return fake.embedding_requests[fake.embeddings_before :]  # type: ignore[attr-defined]


def store(server: ThreadServer, **kwargs: Any) -> ServerMemoryStore:
    return ServerMemoryStore(f"ns-{uuid.uuid4().hex[:8]}", server_url=server.api_url, **kwargs)


def system_of(fake: FakeOpenAI, n: int) -> str:
    return "\n".join(m["content"] for m in fake.requests[n]["messages"] if m["role"] == "system")


# --- the store, through the SDK and the REST API ----------------------------------------------


def test_a_server_store_keeps_searches_and_forgets_entries(server: ThreadServer, fake: FakeOpenAI) -> None:
    memory = SemanticMemory(store=store(server), max_results=2)
    first = memory.add("Alice's favourite editor is Helix.", {"source": "chat"})
    memory.add("The quarterly report is due on the 15th.")
    assert memory.search("Which editor does Alice use?") == ["Alice's favourite editor is Helix."]
    assert memory.get_context("quarterly report") == (
        "Relevant context from memory:\n  1. The quarterly report is due on the 15th."
    )
    # Another process (here: another client) sees the same entries.
    again = ServerMemoryStore(memory.store.namespace, server_url=server.api_url)  # type: ignore[attr-defined]
    listed = again.list_all()
    assert [e.content[:5] for e in listed] == ["Alice", "The q"]
    assert listed[0].id == first and listed[0].metadata == {"source": "chat"} and listed[0].created_at > 0
    assert memory.delete(first) is True and memory.delete(first) is False
    memory.clear()
    assert again.list_all() == []
    assert not new_embeddings(fake), "no model named or configured: nothing is embedded"


def test_adding_an_entry_again_under_its_id_stores_it_once(server: ThreadServer, fake: FakeOpenAI) -> None:
    url = f"{server.api_url}/memory/dedupe-{uuid.uuid4().hex[:6]}/entries"
    body = {"entries": [{"id": "fact-1", "content": "Paris is in France."}]}
    assert httpx.post(url, json=body).status_code == 201
    body["entries"][0]["content"] = "Paris is the capital of France."
    assert httpx.post(url, json=body).status_code == 201
    page = httpx.get(url).json()
    assert [(e["id"], e["content"]) for e in page["entries"]] == [
        ("fact-1", "Paris is the capital of France.")
    ]


def test_embeddings_come_from_the_provider_and_rank_by_meaning(
    server: ThreadServer, fake: FakeOpenAI
) -> None:
    embedded = store(server, embedding_model=EMBEDDER)
    memory = SemanticMemory(store=embedded, max_results=1)
    memory.add("An automobile needs an oil change every 10,000 km.")
    memory.add("Bread needs flour, water and yeast.")
    (request,) = new_embeddings(fake)[:1]
    assert request["model"] == "text-embedding-3-small"
    assert request["input"] == ["An automobile needs an oil change every 10,000 km."]
    # "car" shares no word with the entry: only the embedding (automobile ~ car) finds it.
    assert memory.search("car maintenance") == ["An automobile needs an oil change every 10,000 km."]
    assert new_embeddings(fake)[-1]["input"] == ["car maintenance"]
    lexical = ServerMemoryStore(embedded.namespace, server_url=server.api_url)
    assert lexical.search("car maintenance") == [], "without the model: BM25, no shared word"
    found = httpx.post(
        f"{server.api_url}/memory/{embedded.namespace}/search",
        json={"query": "car", "topK": 5, "embeddingModel": EMBEDDER},
    ).json()
    assert found["embeddingModel"] == EMBEDDER and found["embeddingTokens"] == 1
    assert found["entries"][0]["rankedBy"] == "embedding" and found["entries"][0]["dimensions"] == 32
    assert "embedding" not in found["entries"][0], "vectors are never sent"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/memory/bad%20name/entries", {"entries": [{"content": "x"}]}, 400, "validation_failed"),
        ("POST", "/memory/ns/entries", {"entries": []}, 400, "validation_failed"),
        ("POST", "/memory/ns/entries", {"entries": [{"content": "x" * 40_000}]}, 400, "validation_failed"),
        ("POST", "/memory/ns/search", {"query": "x", "topK": 51}, 400, "validation_failed"),
        ("GET", "/memory/ns/entries?limit=0", None, 400, "validation_failed"),
        ("GET", "/memory/ns/entries?cursor=nonsense", None, 400, "validation_failed"),
        ("GET", "/memory/ns/entries/nope", None, 404, "memory_entry_not_found"),
        (
            "POST",
            "/memory/ns/entries",
            {"entries": [{"content": "x"}], "embeddingModel": "nope"},
            400,
            "validation_failed",
        ),
        ("POST", "/memory/ns/search", {"query": "x", "embeddingModel": "zzz/m"}, 400, "validation_failed"),
        ("DELETE", "/memory/ns/entries/nope", None, 404, "memory_entry_not_found"),
        (
            "POST",
            "/memory/ns/entries",
            {"entries": [{"content": "x"}], "embeddingModel": "anthropic/claude-3-5-haiku-latest"},
            502,
            "embedding_failed",
        ),
    ],
)
def test_bad_requests_get_problem_documents_with_stable_codes(
    server: ThreadServer, fake: FakeOpenAI, method: str, path: str, body: Any, status: int, code: str
) -> None:
    reply = httpx.request(method, f"{server.api_url}{path}", json=body)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == code


def test_the_sdk_store_says_what_the_server_refused(server: ThreadServer, fake: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match="namespace"):
        ServerMemoryStore("no spaces", server_url=server.api_url)
    broken = store(server, embedding_model="anthropic/claude-3-5-haiku-latest")
    with pytest.raises(AgentAPIError) as raised:
        SemanticMemory(store=broken).add("x")
    assert raised.value.status_code == 502 and raised.value.code == "embedding_failed"


def test_the_operations_are_in_the_openapi_document(server: ThreadServer) -> None:
    doc = httpx.get(f"{server.api_url}/openapi.json").json()
    paths = doc["paths"]
    assert {"post", "get", "delete"} <= set(paths["/api/memory/{namespace}/entries"])
    assert "post" in paths["/api/memory/{namespace}/search"]
    described = str(paths["/api/memory/{namespace}/entries"]["post"]["responses"])
    assert "embedding_failed" in described and "limit_exceeded" in described


# --- recall at an agent's start ------------------------------------------------------------------


def test_an_agent_with_server_memory_gets_the_relevant_entries_from_the_server(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    kept = store(server, embedding_model=EMBEDDER)
    memory = SemanticMemory(store=kept, max_results=1)
    relevant = memory.store.add(_entry("The customer drives a blue automobile."))
    memory.add("The office closes at 6pm.")
    fake.script(FakeOpenAI.text("Blue."))
    agent = Agent(name="recaller", model="openai/gpt-4o", instructions="Be brief.", memory=memory)
    result = runtime.run(agent, "What colour is the customer's car?")
    assert result.status == "COMPLETED", result.error
    system = system_of(fake, 0)
    assert system.startswith("Be brief.")
    assert "Relevant context from memory:\n  1. The customer drives a blue automobile." in system
    assert "office" not in system
    (recalled,) = [e for e in result.events if e.type == "memory_recalled"]
    assert recalled.data is not None
    assert recalled.data["entryIds"] == [relevant] and recalled.data["rankedBy"] == ["embedding"]
    purposes = [e.data.get("purpose") for e in result.events if e.type == "llm_call" and e.data]
    assert purposes == ["embedding", None], "the query's embedding is counted, before the model call"
    assert new_embeddings(fake)[-1]["input"] == ["What colour is the customer's car?"]


def test_a_sub_agent_with_server_memory_recalls_for_its_own_prompt(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    memory = SemanticMemory(store=store(server))  # no model: ranked lexically by the server
    memory.add("Invoice 1042 was paid on March 3rd.")
    memory.add("The cafeteria serves soup on Fridays.")
    clerk = Agent(name="clerk", model="openai/gpt-4o", instructions="Answer from memory.", memory=memory)
    fake.script(
        FakeOpenAI.tool_calls([("clerk", {"request": "When was invoice 1042 paid?"})]),
        FakeOpenAI.text("March 3rd."),
        FakeOpenAI.text("It was paid on March 3rd."),
    )
    boss = Agent(name="boss", model="openai/gpt-4o", tools=[agent_tool(clerk)])
    result = runtime.run(boss, "Ask the clerk about invoice 1042.")
    assert result.status == "COMPLETED", result.error
    assert "Relevant context" not in system_of(fake, 0), "the parent has no memory"
    assert "  1. Invoice 1042 was paid on March 3rd." in system_of(fake, 1)
    assert "cafeteria" not in system_of(fake, 1)


def test_a_deployed_agent_run_by_name_recalls_on_the_server(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    """The spec names the namespace; whoever starts the run (here: by name, with no
    ``Agent`` object in this process) gets the same recall, made by the server."""
    memory = SemanticMemory(store=store(server))
    memory.add("The staging database is called ledger-stg.")
    name = f"ops-{uuid.uuid4().hex[:6]}"
    runtime.deploy(Agent(name=name, model="openai/gpt-4o", memory=memory))
    memory.add("The production database is called ledger-prod.")  # added after the deploy
    fake.script(FakeOpenAI.text("ledger-prod"))
    result = runtime.run(name, "What is the production database called?")
    assert result.status == "COMPLETED", result.error
    assert "ledger-prod" in system_of(fake, 0), "searched when the run started, not when deployed"


def test_nothing_relevant_adds_nothing(runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI) -> None:
    memory = SemanticMemory(store=store(server))
    memory.add("The cafeteria serves soup on Fridays.")
    fake.script(FakeOpenAI.text("Hello."))
    result = runtime.run(Agent(name="plain", model="openai/gpt-4o", memory=memory), "hello there")
    assert result.status == "COMPLETED", result.error
    assert "Relevant context" not in system_of(fake, 0)
    (recalled,) = [e for e in result.events if e.type == "memory_recalled"]
    assert recalled.data is not None
    assert recalled.content == "" and recalled.data["entryIds"] == []


# --- index_tool and search_tool ------------------------------------------------------------------


def rag_agent(namespace: str, vector_db: str = "agentspan") -> Agent:
    return Agent(
        name="librarian",
        model="openai/gpt-4o",
        tools=[
            index_tool(
                "remember",
                "Store a document.",
                vector_db,
                "docs",
                "openai",
                "text-embedding-3-small",
                namespace=namespace,
            ),
            search_tool(
                "recall",
                "Search the documents.",
                vector_db,
                "docs",
                "openai",
                "text-embedding-3-small",
                namespace=namespace,
                max_results=2,
            ),
        ],
    )


def test_the_model_indexes_and_searches_documents_with_no_worker(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    namespace = f"rag-{uuid.uuid4().hex[:6]}"
    fake.script(
        FakeOpenAI.tool_calls([("remember", {"text": "Old draft about bread.", "docId": "manual"})]),
        FakeOpenAI.tool_calls(
            [
                (
                    "remember",
                    {"text": "Service the automobile yearly.", "docId": "manual", "metadata": {"v": 2}},
                )
            ]
        ),
        FakeOpenAI.tool_calls([("recall", {"query": "car upkeep"})]),
        FakeOpenAI.text("Service it yearly."),
    )
    result = runtime.run(rag_agent(namespace), "Store the manual, then look up car upkeep.")
    assert result.status == "COMPLETED", result.error
    entries = httpx.get(f"{server.api_url}/memory/{namespace}/entries", params={"index": "docs"}).json()
    assert [(e["id"], e["content"], e["metadata"]) for e in entries["entries"]] == [
        ("manual", "Service the automobile yearly.", {"v": 2, "docId": "manual", "chunk": 0})
    ], "indexing a docId again replaced it"
    tool_results = [m for m in fake.requests[3]["messages"] if m["role"] == "tool"]
    search = json.loads(tool_results[-1]["content"])
    assert search["query"] == "car upkeep" and search["count"] == 1
    (hit,) = search["results"]
    assert (hit["docId"], hit["content"], hit["rankedBy"]) == (
        "manual",
        "Service the automobile yearly.",
        "embedding",
    )
    embeddings = [
        e for e in result.events if e.type == "llm_call" and e.data and e.data.get("purpose") == "embedding"
    ]
    assert len(embeddings) == 3, "two index calls and one search, each counted"
    assert result.token_usage is not None and result.token_usage.prompt_tokens >= sum(
        (e.data or {})["promptTokens"] for e in embeddings
    )


def test_chunked_documents_are_stored_as_numbered_chunks(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    namespace = f"chunks-{uuid.uuid4().hex[:6]}"
    tool = index_tool(
        "remember",
        "Store.",
        "agentspan",
        "docs",
        None,
        None,
        namespace=namespace,
        chunk_size=60,
        chunk_overlap=10,
    )
    text = "word " * 30  # 150 characters: chunks start at 0, 50, 100
    fake.script(FakeOpenAI.tool_calls([("remember", {"text": text, "docId": "d"})]), FakeOpenAI.text("ok"))
    result = runtime.run(Agent(name="chunker", model="openai/gpt-4o", tools=[tool]), "store it")
    assert result.status == "COMPLETED", result.error
    entries = httpx.get(f"{server.api_url}/memory/{namespace}/entries", params={"index": "docs"}).json()[
        "entries"
    ]
    assert sorted(e["id"] for e in entries) == ["d#0", "d#1", "d#2"]
    assert all(e["docId"] == "d" and "embeddingModel" not in e for e in entries)


def test_another_vector_db_is_refused_at_start(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    with pytest.raises(
        ConfigurationError, match="vectorDB 'pgvectordb' is not served by this server: use 'agentspan'"
    ):
        runtime.run(rag_agent("x", vector_db="pgvectordb"), "hi")
    # A spec written by another client is refused by the server the same way.
    tool = {
        "name": "remember",
        "toolType": "rag_index",
        "config": {"vectorDB": "pgvectordb", "index": "docs", "namespace": "x"},
    }
    spec = {"name": "librarian", "model": "openai/gpt-4o", "tools": [tool]}
    reply = httpx.post(f"{server.api_url}/agent/start", json={"agentConfig": spec, "prompt": "hi"})
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "invalid_agent"
    assert "vectorDB 'pgvectordb' is not served by this server" in reply.text
    assert fake.request_count == 0


def _entry(content: str) -> Any:
    from agentspan.agents import MemoryEntry

    return MemoryEntry(content=content)
