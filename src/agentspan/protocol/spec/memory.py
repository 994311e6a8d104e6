"""Conversation memory, callbacks and model options an agent carries (reference API §9-§10)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agentspan.protocol.spec._parts import SpecPart
from agentspan.protocol.spec.tools import MAX_SEARCH_RESULTS, MEMORY_NAME_PATTERN

MAX_MEMORY_MESSAGES = 1000
"""Messages a memory may carry in a spec (each is stored with the run's first messages)."""


class MemorySpec(SpecPart):
    """Prior conversation the execution starts from: ``messages`` (the reference's
    ``{"role", "message"}`` entries or chat messages) and, for a root run with a
    ``sessionId``, the session's earlier exchanges; ``max_messages`` bounds both."""

    messages: Annotated[list[dict[str, Any]], Field(max_length=MAX_MEMORY_MESSAGES)] | None = None
    max_messages: Annotated[int, Field(ge=1)] | None = None
    kind: Literal["conversation", "semantic"] | None = None
    """``None`` means conversation memory. ``semantic``: with ``namespace``, the server
    searches its own memory index for the run's prompt when the execution starts (any
    agent of a tree); else ``messages`` holds what the SDK recalled from an SDK-side store
    (a system message, or none), and without either (a sub-agent's SDK-side store) the
    start is refused."""
    namespace: Annotated[str, Field(pattern=MEMORY_NAME_PATTERN)] | None = None
    """Server-kept semantic memory: the namespace searched (``ServerMemoryStore``)."""
    index: Annotated[str, Field(pattern=MEMORY_NAME_PATTERN)] | None = None
    """Its index (default ``default``)."""
    max_results: Annotated[int, Field(ge=1, le=MAX_SEARCH_RESULTS)] | None = None
    """Entries recalled at most (default 5)."""
    embedding_model: Annotated[str, Field(max_length=200)] | None = None
    """``provider/model`` that embeds the query (default: the server's
    ``AGENTSPAN_EMBEDDING_MODEL``; none: lexical ranking)."""
    dimensions: Annotated[int, Field(ge=1, le=16_384)] | None = None


CallbackPosition = Literal[
    "before_agent", "after_agent", "before_model", "after_model", "before_tool", "after_tool"
]


class CallbackSpec(SpecPart):
    """A hook run by the user's worker ``taskName`` at ``position``."""

    position: CallbackPosition
    task_name: Annotated[str, Field(min_length=1)]


class SessionStateSpec(SpecPart):
    """Run-scoped session state (Google ADK's semantics, kept by the server).

    An agent that has this shares its execution tree's tool state: it starts with a copy of
    its parent's state, and its state is merged back into the parent's when it finishes
    (key by key, the child's values win). ``output_key``: the agent's final answer is
    stored in the state under this key. ``template``: ``{name}`` in the instructions is
    replaced with the state's value at each model call (``{name?}``: empty when missing).
    """

    output_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    template: bool = False
    stop_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    """A ``round_robin`` team ends after a turn that set this key in the state (the key is
    removed then): ADK's ``LoopAgent`` ending when a tool escalates."""


class ThinkingSpec(SpecPart):
    """Extended thinking for models that support it."""

    enabled: bool = True
    budget_tokens: Annotated[int, Field(ge=1)] | None = None
