"""Relevance scoring shared by the SDK's stores and the server's memory store: lexical
ranking (Okapi BM25) over word tokens, and cosine similarity of embeddings. Pure, no
index kept; here (the leaf both sides import) so a search ranks the same on both sides.

BM25 is used where no embedding model is at hand (``InMemoryStore``, a server index
searched without one). BM25 rather than the
reference's Jaccard overlap: Jaccard divides by the size of the union, so a long entry that
holds the answer loses to a short one that merely shares a common word; BM25 weighs rare
words up, common ones down, and saturates repeated ones.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+", re.UNICODE)

K1 = 1.5
"""How quickly repeats of a word stop adding to the score."""
B = 0.75
"""How much a document's length (against the average) discounts its matches."""


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore); punctuation separates."""
    return _TOKEN.findall(text.lower())


def bm25_scores(query: str, documents: Sequence[str]) -> list[float]:
    """One score per document (same order); 0.0 for a document sharing no word with the
    query. Scores compare documents of one call only."""
    query_terms = set(tokens(query))
    docs = [Counter(tokens(d)) for d in documents]
    if not query_terms or not docs:
        return [0.0] * len(docs)
    lengths = [sum(d.values()) for d in docs]
    average = (sum(lengths) / len(docs)) or 1.0
    total = len(docs)
    scores: list[float] = []
    for doc, length in zip(docs, lengths, strict=True):
        score = 0.0
        for term in query_terms:
            freq = doc.get(term, 0)
            if not freq:
                continue
            having = sum(1 for d in docs if term in d)
            # The "+1" form of IDF: never negative, so a word in every document still counts a little.
            idf = math.log(1 + (total - having + 0.5) / (having + 0.5))
            score += idf * freq * (K1 + 1) / (freq + K1 * (1 - B + B * length / average))
        scores.append(score)
    return scores


def rank(query: str, documents: Sequence[str], top_k: int) -> list[int]:
    """Indexes of the ``top_k`` best documents with a score above zero, best first
    (ties keep the documents' order)."""
    return [i for i, _ in ranked(query, documents, top_k)]


def ranked(query: str, documents: Sequence[str], top_k: int) -> list[tuple[int, float]]:
    """``(index, BM25 score)`` of the ``top_k`` best documents scoring above zero, best first."""
    scores = bm25_scores(query, documents)
    order = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))
    return [(i, scores[i]) for i in order[: max(top_k, 0)]]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors of one length (0.0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def pack_vector(vector: Sequence[float]) -> bytes:
    """An embedding as compact little-endian float32 bytes (4 bytes a dimension)."""
    packed = array("f", vector)
    if packed.itemsize != 4:  # pragma: no cover - every platform we run on has 4-byte floats
        raise RuntimeError("float32 arrays are not 4 bytes wide here")
    return packed.tobytes() if _LITTLE else _swapped(packed).tobytes()


def unpack_vector(data: bytes) -> list[float]:
    """The floats ``pack_vector`` stored."""
    packed = array("f")
    packed.frombytes(data)
    return list(packed if _LITTLE else _swapped(packed))


def _swapped(values: array[float]) -> array[float]:
    copy = array("f", values)
    copy.byteswap()
    return copy


_LITTLE = sys.byteorder == "little"
