"""LLM providers: one adapter per wire protocol, normalised to :mod:`.base` types."""

from agentspan.server.providers.base import (
    Embedder,
    Embeddings,
    LlmRequest,
    LlmResponse,
    LlmToolCall,
    LlmToolSpec,
    LlmUsage,
    Provider,
    ProviderError,
)
from agentspan.server.providers.registry import ProviderRegistry

__all__ = [
    "Embedder",
    "Embeddings",
    "LlmRequest",
    "LlmResponse",
    "LlmToolCall",
    "LlmToolSpec",
    "LlmUsage",
    "Provider",
    "ProviderError",
    "ProviderRegistry",
]
