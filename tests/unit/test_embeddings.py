"""Embeddings and the pieces of semantic memory that need no server: the OpenAI-compatible
``embed`` against the fake endpoint (a real HTTP server), masking, vector packing, cosine,
and how ``index_tool`` cuts a text into chunks."""

from __future__ import annotations

import math

import pytest

from agentspan.protocol.relevance import cosine, pack_vector, ranked, unpack_vector
from agentspan.server.executors.rag_tools import chunks
from agentspan.server.executors.tools import ToolCallError
from agentspan.server.providers import Embedder, ProviderError
from agentspan.server.providers.anthropic import AnthropicProvider
from agentspan.server.providers.openai import OpenAIProvider
from agentspan.server.providers.redaction import Masked

from fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_embed_posts_the_texts_and_reads_the_vectors_in_order(fake_openai: FakeOpenAI) -> None:
    before = len(fake_openai.embedding_requests)
    provider = OpenAIProvider("sk-test", fake_openai.base_url)
    try:
        assert isinstance(provider, Embedder)
        reply = await provider.embed("text-embedding-3-small", ["red apple", "green pear"], dimensions=8)
    finally:
        await provider.aclose()
    (sent,) = fake_openai.embedding_requests[before:]
    assert sent == {
        "model": "text-embedding-3-small",
        "input": ["red apple", "green pear"],
        "encoding_format": "float",
        "dimensions": 8,
    }
    assert reply.vectors == [fake_openai.vector("red apple", 8), fake_openai.vector("green pear", 8)]
    assert reply.prompt_tokens == 4


async def test_an_endpoint_error_is_a_provider_error_with_the_key_masked(fake_openai: FakeOpenAI) -> None:
    key = "sk-secret-embedding-key-123"
    provider = Masked(OpenAIProvider(key, fake_openai.endpoint + "/nowhere"), [key])
    try:
        with pytest.raises(ProviderError) as raised:
            await provider.embed("m", ["x"])
    finally:
        await provider.aclose()
    assert "404" in str(raised.value) and key not in str(raised.value)
    assert raised.value.retryable is False


async def test_a_provider_without_embeddings_says_so() -> None:
    provider = Masked(AnthropicProvider("sk-ant", "http://127.0.0.1:9"), [])
    with pytest.raises(ProviderError, match="no embeddings API"):
        await provider.embed("claude", ["x"])
    await provider.aclose()


def test_vectors_pack_to_four_bytes_a_dimension_and_back() -> None:
    vector = [0.25, -1.5, 3.0, 0.0]
    packed = pack_vector(vector)
    assert len(packed) == 16 and packed[:4] == b"\x00\x00\x80>"  # 0.25, little-endian float32
    assert unpack_vector(packed) == vector


def test_cosine_and_lexical_scores() -> None:
    assert cosine([1.0, 0.0], [1.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 1.0]) == 0.0
    assert cosine([1.0, 1.0], [1.0, 0.0]) == pytest.approx(1 / math.sqrt(2))
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
    order = ranked("blue sky", ["the sky is blue", "grass", "sky"], 5)
    assert [i for i, _ in order] == [0, 2] and all(score > 0 for _, score in order)


@pytest.mark.parametrize(
    ("text", "size", "overlap", "expected"),
    [
        ("abcdefghij", None, None, ["abcdefghij"]),
        ("abcdefghij", 20, 5, ["abcdefghij"]),
        ("abcdefghij", 4, None, ["abcd", "efgh", "ij"]),
        ("abcdefghij", 4, 1, ["abcd", "defg", "ghij"]),
        ("abcdefghij", 5, 2, ["abcde", "defgh", "ghij"]),
    ],
)
def test_chunks_cover_the_text_with_the_overlap_asked(
    text: str, size: int | None, overlap: int | None, expected: list[str]
) -> None:
    assert chunks(text, size, overlap) == expected


def test_an_overlap_as_long_as_a_chunk_is_refused() -> None:
    with pytest.raises(ToolCallError, match="smaller than chunkSize"):
        chunks("abcdefghij", 4, 4)
