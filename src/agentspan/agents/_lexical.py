"""Lexical relevance ranking (Okapi BM25) over word tokens: pure, no index kept.

Used where no embedding model is at hand (``InMemoryStore``). BM25 rather than the
reference's Jaccard overlap: Jaccard divides by the size of the union, so a long entry that
holds the answer loses to a short one that merely shares a common word; BM25 weighs rare
words up, common ones down, and saturates repeated ones.
"""

from __future__ import annotations

import math
import re
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
    scores = bm25_scores(query, documents)
    order = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))
    return order[: max(top_k, 0)]
