"""How many tokens each model's context window holds (prompt and answer together).

Looked up by the longest matching prefix of the model name, with or without its
provider prefix (``openai/gpt-4o-mini`` matches ``gpt-4o``). The operator overrides or adds
entries with ``AGENTSPAN_CONTEXT_WINDOWS`` (``name=tokens,...``) and sets the window of
models in no entry with ``AGENTSPAN_DEFAULT_CONTEXT_WINDOW``. Numbers are the vendors'
published limits; a model missing here gets the default, which is deliberately small (a
conversation condensed early loses detail; one sent past the window fails the run).
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_CONTEXT_WINDOW = 32_000

CONTEXT_WINDOWS: Mapping[str, int] = {
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude-": 200_000,
    "anthropic.claude": 200_000,
    "gemini-1.5-pro": 2_097_152,
    "gemini-1.5-flash": 1_048_576,
    "gemini-2": 1_048_576,
    "command-r": 128_000,
    "command-a": 256_000,
    "mistral-large": 128_000,
    "llama3": 8_192,
    "llama3.1": 128_000,
}


def context_window(
    model: str, overrides: Mapping[str, int] | None = None, default: int = DEFAULT_CONTEXT_WINDOW
) -> int:
    """The context window of ``model`` (``provider/name`` or ``name``)."""
    bare = model.split("/", 1)[1] if "/" in model else model
    best: tuple[int, int] | None = None  # (prefix length, tokens); overrides win ties
    for table in (CONTEXT_WINDOWS, overrides or {}):
        for prefix, tokens in table.items():
            matches = model.startswith(prefix) or bare.startswith(prefix)
            if matches and (best is None or len(prefix) >= best[0]):
                best = (len(prefix), tokens)
    return best[1] if best is not None else default
