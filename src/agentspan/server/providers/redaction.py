"""The server's credentials never leave through a model call's answer.

A provider endpoint (or a proxy in front of it) may echo the credential it was sent: in an
error body, but also in an answer, in streamed text or in tool-call arguments. Whatever
an adapter returns is stored (messages, events), sent to SSE subscribers and handed to
workers, so :class:`Masked` wraps every adapter the registry hands out and masks the
server's credentials in all of it, at any depth:

* the reply's text, thinking and each tool call's name and raw arguments;
* streamed text, piece by piece, holding back a tail that could be the start of a
  credential until the next piece shows whether it is (a key split across two pieces is
  masked too);
* the message of a failed call.

The credentials are the values of the environment variables that hold secrets (names
ending in ``_KEY``, ``_TOKEN``, ``_SECRET`` or ``_PASSWORD``, e.g. ``OPENAI_API_KEY``,
``AWS_SECRET_ACCESS_KEY``), read when the adapter is made, so a key set for any provider
is masked in every provider's answers. Adapters also mask their own key in an error body
before it is cut to length (``_common.HttpAdapter``); this is the layer behind that one.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from agentspan.server.providers._common import MASK as MASK
from agentspan.server.providers._common import redact
from agentspan.server.providers.base import (
    DeltaCallback,
    Embedder,
    Embeddings,
    LlmRequest,
    LlmResponse,
    Provider,
    ProviderError,
)

_SECRET_NAME = re.compile(r"(_KEY|_TOKEN|_SECRET|_PASSWORD)$", re.IGNORECASE)
MIN_SECRET = 8
"""Shorter values are not treated as secrets (masking ``"1"`` everywhere would mangle text)."""


def env_secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    """The credential values in ``env``, longest first (so no shorter one masks part of one)."""
    found = {v.strip() for k, v in env.items() if _SECRET_NAME.search(k) and len(v.strip()) >= MIN_SECRET}
    return tuple(sorted(found, key=len, reverse=True))


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as it may appear in text: as is, and escaped inside a JSON string."""
    forms: set[str] = set()
    for secret in secrets:
        forms.add(secret)
        forms.add(json.dumps(secret)[1:-1])
        forms.add(secret.replace("/", "\\/"))
    return tuple(sorted(forms, key=len, reverse=True))


def mask_text(text: str, forms: tuple[str, ...]) -> str:
    """``text`` without any of ``forms``, nor a start of one cut off at its end."""
    for form in forms:
        text = redact(text, form)
    return text


def mask(value: Any, forms: tuple[str, ...]) -> Any:
    """``value`` (text, or JSON-like data nested to any depth) with every secret masked."""
    if not forms:
        return value
    if isinstance(value, str):
        return mask_text(value, forms)
    if isinstance(value, dict):
        return {mask(k, forms): mask(v, forms) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, forms) for v in value]
    return value


class MaskedDeltas:
    """A ``DeltaCallback`` that passes streamed text on with every secret masked.

    A piece may end inside a secret; the tail that could still grow into one is held back
    until the next piece (or :meth:`flush`) decides."""

    def __init__(self, sink: DeltaCallback, forms: tuple[str, ...]) -> None:
        self._sink = sink
        self._forms = forms
        self._held = ""

    def __call__(self, piece: str) -> None:
        text = self._held + piece
        for form in self._forms:
            text = text.replace(form, MASK)
        keep = self._open_tail(text)
        self._held = text[len(text) - keep :] if keep else ""
        if len(text) > keep:
            self._sink(text[: len(text) - keep])

    def flush(self) -> None:
        """Pass on what was held back (masked if it is a long enough start of a secret)."""
        if self._held:
            held, self._held = self._held, ""
            self._sink(mask_text(held, self._forms))

    def _open_tail(self, text: str) -> int:
        """The length of the longest end of ``text`` that is the start of some secret."""
        best = 0
        for form in self._forms:
            at = text.find(form[0], max(0, len(text) - len(form) + 1))
            while at != -1 and len(text) - at > best:
                if form.startswith(text[at:]):
                    best = len(text) - at  # the earliest match is the longest tail
                    break
                at = text.find(form[0], at + 1)
        return best


class Masked:
    """A provider whose answers, streamed text and errors never carry ``secrets``."""

    def __init__(self, inner: Provider, secrets: Iterable[str]) -> None:
        self.inner = inner
        self._forms = secret_forms(secrets)

    async def complete(self, request: LlmRequest, on_delta: DeltaCallback | None = None) -> LlmResponse:
        if not self._forms:
            return await self.inner.complete(request, on_delta)
        deltas = MaskedDeltas(on_delta, self._forms) if on_delta is not None else None
        try:
            reply = await self.inner.complete(request, deltas)
        except ProviderError as exc:
            # ``from None``: the original (unmasked) error must not be chained into a log.
            raise ProviderError(
                mask_text(str(exc), self._forms), retryable=exc.retryable, retry_after=exc.retry_after
            ) from None
        finally:
            if deltas is not None:
                deltas.flush()
        return dataclasses.replace(
            reply,
            content=mask(reply.content, self._forms),
            thinking=mask(reply.thinking, self._forms),
            tool_calls=[
                dataclasses.replace(
                    call,
                    name=mask_text(call.name, self._forms),
                    arguments=mask_text(call.arguments, self._forms),
                )
                for call in reply.tool_calls
            ],
        )

    async def embed(self, model: str, texts: list[str], dimensions: int | None = None) -> Embeddings:
        """The inner adapter's embeddings (``ProviderError`` when it has none); vectors
        carry no text, so only errors need masking."""
        if not isinstance(self.inner, Embedder):
            raise ProviderError(
                f"the provider of model {model!r} has no embeddings API on this server", retryable=False
            )
        try:
            return await self.inner.embed(model, texts, dimensions)
        except ProviderError as exc:
            raise ProviderError(
                mask_text(str(exc), self._forms), retryable=exc.retryable, retry_after=exc.retry_after
            ) from None

    async def aclose(self) -> None:
        await self.inner.aclose()
