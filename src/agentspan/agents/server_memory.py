"""``ServerMemoryStore``: semantic memory kept in the agentspan server's database.

A ``MemoryStore`` (reference API §9.2) whose entries live on the server, per namespace
and index (``/api/memory``), so they outlive this process and every process talking to
the same server shares them. With an embedding model (``embedding_model``, else the
server's ``AGENTSPAN_EMBEDDING_MODEL``) the server embeds entries and queries through its
provider layer; without one it ranks lexically (BM25), as ``InMemoryStore`` does.

Given to an agent (``Agent(memory=SemanticMemory(store=ServerMemoryStore(...)))``), the
memory is searched by the server, not by this SDK: when each execution of that agent
starts (a sub-agent's too, and a run started by name), recorded as a ``memory_recalled``
event (docs/sdk.md#semantic-memory).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from agentspan._core.errors import AgentAPIError
from agentspan.agents._config import AgentConfig, normalize_server_url
from agentspan.agents.semantic_memory import MemoryEntry, MemoryStore
from agentspan.client._auth import auth_headers, bearer_token
from agentspan.protocol.spec import MemorySpec

__all__ = ["ServerMemoryStore"]

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_PAGE = 200


class ServerMemoryStore(MemoryStore):
    """Entries of ``namespace``/``index`` on the server (``server_url`` and ``api_key``
    default to ``AGENTSPAN_SERVER_URL`` / ``AGENTSPAN_API_KEY``, as ``AgentRuntime``'s).

    ``embedding_model`` (``provider/model``, e.g. ``openai/text-embedding-3-small``) embeds
    what is added and searched; ``dimensions`` asks models that can shorten their vectors
    for that many. The server must be running when a method is called.
    """

    def __init__(
        self,
        namespace: str = "default",
        *,
        index: str = "default",
        embedding_model: str | None = None,
        dimensions: int | None = None,
        server_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        for what, value in (("namespace", namespace), ("index", index)):
            if not _NAME.match(value):
                raise ValueError(
                    f"ServerMemoryStore {what} {value!r}: use 1-128 letters, digits, '_', '.', ':' or '-'"
                )
        if dimensions is not None and dimensions < 1:
            raise ValueError(f"ServerMemoryStore dimensions must be positive, got {dimensions}")
        self.namespace = namespace
        self.index = index
        self.embedding_model = embedding_model
        self.dimensions = dimensions
        config = AgentConfig.from_env()
        self.server_url = normalize_server_url(server_url or config.server_url)
        token = bearer_token(api_key or config.api_key, config.auth_key)
        self._http = httpx.Client(base_url=self.server_url, headers=auth_headers(token), timeout=timeout)
        self._base = f"/memory/{quote(namespace, safe='')}"

    # -- MemoryStore --------------------------------------------------------------------------

    def add(self, entry: MemoryEntry) -> str:
        """Store ``entry`` (replacing one with the same id); an id is chosen here when it
        has none, so a retried request cannot store it twice."""
        if not entry.id:
            entry.id = uuid.uuid4().hex[:16]
        body: dict[str, Any] = {
            "entries": [{"id": entry.id, "content": entry.content, "metadata": entry.metadata}],
            "index": self.index,
        }
        body.update(self._model_fields())
        stored = self._call("POST", f"{self._base}/entries", json=body)["entries"][0]
        entry.created_at = float(stored.get("createdAt") or time.time())
        return entry.id

    def search(self, query: str, top_k: int = 5) -> list[MemoryEntry]:
        if not query.strip() or top_k < 1:
            return []
        body: dict[str, Any] = {"query": query, "index": self.index, "topK": min(top_k, 50)}
        body.update(self._model_fields())
        return [_entry(e) for e in self._call("POST", f"{self._base}/search", json=body)["entries"]]

    def delete(self, memory_id: str) -> bool:
        try:
            self._call("DELETE", f"{self._base}/entries/{quote(memory_id, safe='')}", params=self._index())
        except AgentAPIError as exc:
            if exc.status_code == 404:
                return False
            raise
        return True

    def clear(self) -> None:
        self._call("DELETE", f"{self._base}/entries", params=self._index())

    def list_all(self) -> list[MemoryEntry]:
        entries: list[MemoryEntry] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {**self._index(), "limit": _PAGE}
            if cursor:
                params["cursor"] = cursor
            page = self._call("GET", f"{self._base}/entries", params=params)
            entries += [_entry(e) for e in page["entries"]]
            cursor = page.get("nextCursor")
            if not cursor:
                return entries

    # -- as an agent's memory -----------------------------------------------------------------

    def to_spec(self, max_results: int | None = None) -> MemorySpec:
        """What an agent with this memory sends: the server searches it at each start."""
        return MemorySpec(
            kind="semantic",
            namespace=self.namespace,
            index=self.index,
            max_results=max_results,
            embedding_model=self.embedding_model,
            dimensions=self.dimensions,
        )

    def close(self) -> None:
        """Close the store's connections (it cannot be used afterwards)."""
        self._http.close()

    def __enter__(self) -> ServerMemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ServerMemoryStore(namespace={self.namespace!r}, index={self.index!r})"

    # -- HTTP ---------------------------------------------------------------------------------

    def _index(self) -> dict[str, str]:
        return {"index": self.index}

    def _model_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.embedding_model:
            fields["embeddingModel"] = self.embedding_model
        if self.dimensions:
            fields["dimensions"] = self.dimensions
        return fields

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.server_url}{path}"
        try:
            reply = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AgentAPIError(0, f"could not reach the agentspan server at {url}: {exc}", url) from None
        if reply.status_code == 204:
            return {}
        try:
            body = reply.json()
        except ValueError:
            body = None
        if not 200 <= reply.status_code <= 299:
            problem = body if isinstance(body, dict) else {}
            message = str(problem.get("detail") or reply.text[:300])
            code = problem.get("code")
            raise AgentAPIError(reply.status_code, message, url, code if isinstance(code, str) else None)
        if not isinstance(body, dict):
            raise AgentAPIError(reply.status_code, "the server's answer is not a JSON object", url)
        return body


def _entry(view: dict[str, Any]) -> MemoryEntry:
    metadata = dict(view.get("metadata") or {})
    return MemoryEntry(
        id=str(view["id"]),
        content=str(view["content"]),
        metadata=metadata,
        created_at=float(view.get("createdAt") or 0.0),
    )
