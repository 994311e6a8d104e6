"""Maps ``provider/model-name`` strings to provider adapters.

Configuration comes from environment variables, read when a model is resolved (not when the
registry is built) so a server picks up the environment it runs with:

* ``OPENAI_API_KEY`` -- key for ``openai/...`` models;
* ``OPENAI_BASE_URL`` -- an OpenAI-compatible endpoint (default ``https://api.openai.com/v1``).
  With a base URL and no key, requests carry no ``Authorization`` header (local servers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import httpx

from agentspan.server.providers.base import Provider, ProviderError
from agentspan.server.providers.offline import OfflineProvider
from agentspan.server.providers.openai import DEFAULT_BASE_URL, OpenAIProvider

_MODEL_FORMAT = "model must look like 'provider/model-name', e.g. 'openai/gpt-4o'"


class ProviderRegistry:
    """Resolves model strings to shared adapters; one per provider configuration."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env
        # Keyed by provider name plus its configuration, so a changed environment gets a fresh
        # adapter instead of silently reusing stale credentials.
        self._adapters: dict[tuple[str, ...], Provider] = {}
        self._client: httpx.AsyncClient | None = None
        self._factories: dict[str, Callable[[], tuple[tuple[str, ...], Callable[[], Provider]]]] = {
            "offline": self._offline,
            "openai": self._openai,
        }

    @property
    def provider_names(self) -> list[str]:
        """The provider prefixes this registry understands, sorted."""
        return sorted(self._factories)

    def resolve(self, model: str) -> tuple[Provider, str]:
        """Return the adapter for ``model`` and the model name without its provider prefix."""
        provider_name, sep, model_name = model.partition("/")
        provider_name = provider_name.strip()
        model_name = model_name.strip()
        if not sep or not provider_name or not model_name:
            raise ProviderError(f"{_MODEL_FORMAT}; got {model!r}", retryable=False)
        factory = self._factories.get(provider_name)
        if factory is None:
            raise ProviderError(
                f"unknown model provider {provider_name!r} in {model!r}; "
                f"valid providers: {', '.join(self.provider_names)}",
                retryable=False,
            )
        key, build = factory()
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._adapters[key] = build()
        return adapter, model_name

    async def aclose(self) -> None:
        """Close every adapter and the shared HTTP client."""
        adapters = list(self._adapters.values())
        self._adapters.clear()
        for adapter in adapters:
            await adapter.aclose()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _environ(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    def _setting(self, name: str) -> str | None:
        value = self._environ().get(name, "").strip()
        return value or None

    def _shared_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    def _offline(self) -> tuple[tuple[str, ...], Callable[[], Provider]]:
        return ("offline",), OfflineProvider

    def _openai(self) -> tuple[tuple[str, ...], Callable[[], Provider]]:
        api_key = self._setting("OPENAI_API_KEY")
        base_url = self._setting("OPENAI_BASE_URL")
        if api_key is None and base_url is None:
            raise ProviderError(
                "openai models need an API key: set the OPENAI_API_KEY environment variable "
                "(or OPENAI_BASE_URL for a local OpenAI-compatible server)",
                retryable=False,
            )
        url = base_url or DEFAULT_BASE_URL

        def build() -> Provider:
            return OpenAIProvider(api_key, url, client=self._shared_client())

        return ("openai", api_key or "", url), build
