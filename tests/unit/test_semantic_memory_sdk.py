"""Semantic memory in the SDK: BM25 ranking, the stores, SemanticMemory's API and what a
run of an agent with semantic memory sends (reference API §9.2)."""

from __future__ import annotations

import pytest

from agentspan.agents import Agent, MemoryEntry, MemoryStore, SemanticMemory
from agentspan.agents._serialize import serialize_agent
from agentspan.agents.semantic_memory import InMemoryStore, recalled, with_recall
from agentspan.protocol.relevance import bm25_scores, rank, tokens

FACTS = [
    "The user's name is Alice and she works as a backend engineer.",
    "Alice prefers Python over Go for scripting.",
    "The office coffee machine is on the third floor.",
    "Deployments happen every Tuesday after the standup meeting with the platform team.",
]


def test_tokens_are_lower_cased_words() -> None:
    assert tokens("Hello, World! It's 2 PM_now") == ["hello", "world", "it", "s", "2", "pm_now"]


def test_bm25_ranks_by_shared_rare_words_and_drops_unrelated() -> None:
    scores = bm25_scores("when do deployments happen", FACTS)
    assert scores[3] > 0 and all(s == 0 for s in scores[:3])
    assert rank("what language does Alice prefer", FACTS, 5)[0] == 1
    assert rank("nothing shared here xyz", FACTS, 5) == []
    assert rank("", FACTS, 5) == [] and rank("alice", [], 5) == []


def test_bm25_weighs_a_rare_word_above_a_common_one() -> None:
    docs = ["the cat sat", "the dog sat", "the bird sang", "a zebra"]
    # "the" is in three documents, "zebra" in one: the zebra document wins.
    assert rank("the zebra", docs, 4)[0] == 3


def test_bm25_prefers_the_long_entry_that_holds_more_of_the_query() -> None:
    """Where the reference's Jaccard overlap would pick the short entry sharing one word."""
    docs = ["Alice", "Alice is a backend engineer who deploys the billing service every week"]
    assert rank("which service does alice deploy, the billing service?", docs, 2)[0] == 1


def test_rank_honours_top_k_and_keeps_order_on_ties() -> None:
    docs = ["red apple", "red apple", "red apple"]
    assert rank("apple", docs, 2) == [0, 1]
    assert rank("apple", docs, 0) == []


def test_in_memory_store_add_search_delete_clear() -> None:
    store = InMemoryStore()
    ids = [store.add(MemoryEntry(content=fact)) for fact in FACTS]
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids) and len(set(ids)) == 4
    assert all(e.created_at > 0 for e in store.list_all())
    found = store.search("coffee machine floor", top_k=1)
    assert [e.content for e in found] == [FACTS[2]]
    assert store.delete(ids[2]) is True and store.delete(ids[2]) is False
    assert store.search("coffee machine floor") == []
    store.clear()
    assert store.list_all() == []


def test_an_entry_keeps_the_id_it_was_given() -> None:
    store = InMemoryStore()
    assert store.add(MemoryEntry(id="fixed", content="x")) == "fixed"
    assert [e.id for e in store.list_all()] == ["fixed"]


def test_semantic_memory_api_and_context_block() -> None:
    memory = SemanticMemory(max_results=2, session_id="s1")
    for fact in FACTS:
        memory.add(fact, metadata={"source": "chat"})
    assert all(e.metadata == {"source": "chat", "session_id": "s1"} for e in memory.list_all())
    assert memory.search("Alice Python") == [FACTS[1], FACTS[0]]
    assert len(memory.search("Alice", top_k=1)) == 1
    assert memory.get_context("Alice Python") == (
        f"Relevant context from memory:\n  1. {FACTS[1]}\n  2. {FACTS[0]}"
    )
    assert memory.get_context("zzz") == ""
    first = memory.list_all()[0]
    assert memory.delete(first.id) and len(memory.list_all()) == 3
    memory.clear()
    assert memory.list_all() == []


class ListStore(MemoryStore):
    """A user's own backend: the five abstract methods are all it takes."""

    def __init__(self) -> None:
        self.entries: list[MemoryEntry] = []
        self.queries: list[str] = []

    def add(self, entry: MemoryEntry) -> str:
        entry.id = str(len(self.entries))
        self.entries.append(entry)
        return entry.id

    def search(self, query: str, top_k: int = 5) -> list[MemoryEntry]:
        self.queries.append(query)
        return self.entries[:top_k]

    def delete(self, memory_id: str) -> bool:
        return False

    def clear(self) -> None:
        self.entries.clear()

    def list_all(self) -> list[MemoryEntry]:
        return list(self.entries)


def test_memory_store_is_abstract_and_pluggable() -> None:
    with pytest.raises(TypeError):
        MemoryStore()  # type: ignore[abstract]
    store = ListStore()
    memory = SemanticMemory(store=store)
    memory.add("one fact")
    assert memory.get_context("anything") == "Relevant context from memory:\n  1. one fact"
    assert store.queries == ["anything"]


def test_a_run_sends_what_the_memory_recalls_for_its_prompt() -> None:
    memory = SemanticMemory()
    for fact in FACTS:
        memory.add(fact)
    agent = Agent(name="recall", model="openai/gpt-4o", memory=memory)
    spec = with_recall(serialize_agent(agent), agent.memory, "When are deployments?")
    assert spec.memory is not None and spec.memory.kind == "semantic"
    assert spec.memory.messages == [
        {"role": "system", "content": f"Relevant context from memory:\n  1. {FACTS[3]}"}
    ]
    nothing = with_recall(serialize_agent(agent), agent.memory, "zzz")
    assert nothing.memory is not None and nothing.memory.messages == []


def test_a_bare_store_given_as_memory_is_searched_too_and_other_objects_are_not() -> None:
    store = InMemoryStore()
    store.add(MemoryEntry(content="the vault code is kept by Bob"))
    assert (
        recalled(store, "who keeps the vault code")
        == "Relevant context from memory:\n  1. the vault code is kept by Bob"
    )
    assert recalled(object(), "x") is None
    agent = Agent(name="plain", model="openai/gpt-4o")
    spec = serialize_agent(agent)
    assert with_recall(spec, None, "hi") is spec
