"""Estimated cost of a model call from a price table (a JSON data file users can override).

Prices are USD per million tokens. The built-in table ships in ``data/prices.json``; a file
named by ``AGENTSPAN_PRICES_FILE`` is merged over it (same format), so operators can
correct or extend prices without a release. ``google/`` is priced as ``google_gemini/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

_ALIASES = {"google": "google_gemini", "xai": "grok"}


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> float:
        uncached = max(prompt_tokens - cached_tokens, 0)
        total = uncached * self.input + cached_tokens * self.cached_input + completion_tokens * self.output
        return round(total / 1_000_000, 8)


class PriceTable:
    def __init__(self, entries: dict[str, Price]) -> None:
        self._exact = {k: v for k, v in entries.items() if not k.endswith("*")}
        # Longest prefix first, so "claude-sonnet-4-5*" would win over "claude-sonnet-4*".
        self._prefixes = sorted(
            ((k[:-1], v) for k, v in entries.items() if k.endswith("*")), key=lambda kv: -len(kv[0])
        )

    @classmethod
    def load(cls, override: str | None = None) -> PriceTable:
        raw = json.loads(
            resources.files("agentspan.server.providers").joinpath("data/prices.json").read_text()
        )
        path = override if override is not None else os.environ.get("AGENTSPAN_PRICES_FILE")
        if path:
            try:
                raw.update(json.loads(Path(path).read_text()))
            except (OSError, ValueError) as exc:
                raise ValueError(
                    f"AGENTSPAN_PRICES_FILE {path!r} is not a readable JSON price table: {exc}"
                ) from exc
        return cls({key: _price(key, value) for key, value in raw.items() if not key.startswith("_")})

    def lookup(self, model: str) -> Price | None:
        provider, _, name = model.partition("/")
        key = f"{_ALIASES.get(provider, provider)}/{name}"
        price = self._exact.get(key)
        if price is not None:
            return price
        for prefix, candidate in self._prefixes:
            if key.startswith(prefix):
                return candidate
        return None

    def cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> float | None:
        """Estimated USD cost, or ``None`` when the model has no price."""
        price = self.lookup(model)
        return None if price is None else price.cost(prompt_tokens, completion_tokens, cached_tokens)


def _price(key: str, value: Any) -> Price:
    if not isinstance(value, dict) or "input" not in value or "output" not in value:
        raise ValueError(f"price entry {key!r} needs 'input' and 'output' (USD per 1M tokens)")
    return Price(
        input=float(value["input"]),
        output=float(value["output"]),
        cached_input=float(value["cachedInput"] if "cachedInput" in value else value["input"]),
    )
