"""Semantic memory: facts kept across runs and recalled by relevance (reference API §9.2).

``SemanticMemory`` wraps a ``MemoryStore`` (``InMemoryStore`` by default, the server's
``ServerMemoryStore``, or your own backend). Used on its own it is a helper you call;
given to an agent (``Agent(memory=SemanticMemory(...))``, which the reference documented
but never honoured) the entries relevant to each run's prompt are added to the agent's
instructions for every model call of that run. A ``ServerMemoryStore`` is searched by the
server when each execution starts (sub-agents too); an SDK-side store is searched here
when the agent that is run starts, and sent with the run (docs/sdk.md#semantic-memory).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from agentspan.protocol.relevance import rank
from agentspan.protocol.spec import AgentConfig, MemorySpec

__all__ = ["InMemoryStore", "MemoryEntry", "MemoryStore", "SemanticMemory"]

CONTEXT_HEADER = "Relevant context from memory:"


@dataclass
class MemoryEntry:
    """One remembered fact."""

    id: str = ""
    content: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    embedding: list[float] | None = None
    created_at: float = 0.0


class MemoryStore(ABC):
    """Where entries live; implement these five methods for another backend."""

    @abstractmethod
    def add(self, entry: MemoryEntry) -> str:
        """Store ``entry``; return its id."""

    @abstractmethod
    def search(self, query: str, top_k: int = 5) -> list[MemoryEntry]:
        """The entries most relevant to ``query``, best first."""

    @abstractmethod
    def delete(self, memory_id: str) -> bool:
        """Remove an entry; False if there was none with that id."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every entry."""

    @abstractmethod
    def list_all(self) -> list[MemoryEntry]:
        """Every entry, oldest first."""


class InMemoryStore(MemoryStore):
    """Entries in this process's memory (lost when it exits), ranked by BM25 over word
    tokens (the reference used Jaccard overlap, see ``protocol/relevance.py``); only entries sharing
    a word with the query are returned. Safe to use from several threads."""

    def __init__(self) -> None:
        self._entries: dict[str, MemoryEntry] = {}
        self._lock = threading.Lock()

    def add(self, entry: MemoryEntry) -> str:
        if not entry.created_at:
            entry.created_at = time.time()
        if not entry.id:
            seed = f"{entry.content}{time.time_ns()}"
            entry.id = hashlib.sha256(seed.encode()).hexdigest()[:16]
        with self._lock:
            self._entries[entry.id] = entry
        return entry.id

    def search(self, query: str, top_k: int = 5) -> list[MemoryEntry]:
        with self._lock:
            entries = list(self._entries.values())
        return [entries[i] for i in rank(query, [e.content for e in entries], top_k)]

    def delete(self, memory_id: str) -> bool:
        with self._lock:
            return self._entries.pop(memory_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def list_all(self) -> list[MemoryEntry]:
        with self._lock:
            return list(self._entries.values())


class SemanticMemory:
    """Facts recalled by relevance: ``add`` them, ``search`` them, or give the memory to an
    agent so each run starts with the ``max_results`` most relevant to its prompt."""

    def __init__(
        self, store: MemoryStore | None = None, max_results: int = 5, session_id: str | None = None
    ) -> None:
        self.store: MemoryStore = store if store is not None else InMemoryStore()
        self.max_results = max_results
        self.session_id = session_id

    def add(self, content: str, metadata: dict[str, Any] | None = None) -> str:
        meta = copy.deepcopy(metadata) if metadata else {}
        if self.session_id:
            meta["session_id"] = self.session_id
        return self.store.add(MemoryEntry(content=content, metadata=meta))

    def search_entries(self, query: str, top_k: int | None = None) -> list[MemoryEntry]:
        return self.store.search(query, top_k=self.max_results if top_k is None else top_k)

    def search(self, query: str, top_k: int | None = None) -> list[str]:
        return [e.content for e in self.search_entries(query, top_k)]

    def delete(self, memory_id: str) -> bool:
        return self.store.delete(memory_id)

    def clear(self) -> None:
        self.store.clear()

    def list_all(self) -> list[MemoryEntry]:
        return self.store.list_all()

    @property
    def server_kept(self) -> bool:
        """Whether the store lives on the server (``ServerMemoryStore``), which then
        searches it when the agent's executions start."""
        return callable(getattr(self.store, "to_spec", None))

    def to_spec(self) -> MemorySpec:
        """What an agent with this memory sends: the server's namespace to search, or (an
        SDK-side store) only that it is semantic memory (``with_recall`` adds what the
        SDK recalled for the run's prompt)."""
        if self.server_kept:
            spec = self.store.to_spec(self.max_results)  # type: ignore[attr-defined]
            if isinstance(spec, MemorySpec):
                return spec
        return MemorySpec(kind="semantic")

    def get_context(self, query: str) -> str:
        """The relevant entries as a numbered block for a prompt, or ``""`` if none."""
        found = self.search(query)
        if not found:
            return ""
        lines = [f"  {i}. {content}" for i, content in enumerate(found, 1)]
        return "\n".join([CONTEXT_HEADER, *lines])


def recalled(memory: Any, prompt: str) -> str | None:
    """What a run of an agent with this memory recalls for ``prompt`` (``""``: nothing
    relevant), or None when the memory is not semantic memory this SDK searches (not
    semantic memory, or one the server keeps and searches itself)."""
    if isinstance(memory, MemoryStore):
        memory = SemanticMemory(store=memory)
    if not isinstance(memory, SemanticMemory) or memory.server_kept:
        return None
    return memory.get_context(prompt) if prompt else ""


def with_recall(spec: AgentConfig, memory: Any, prompt: str) -> AgentConfig:
    """The root agent's spec for a run of ``prompt``: with semantic memory, what it
    recalls goes in ``memory.messages`` as a system message (the server adds it to the
    instructions of each model call and stores it with the run)."""
    context = recalled(memory, prompt)
    if context is None:
        return spec
    messages = [{"role": "system", "content": context}] if context else []
    return spec.model_copy(update={"memory": MemorySpec(kind="semantic", messages=messages)})
