"""Maps ``provider/model-name`` strings to provider adapters.

Configuration comes from environment variables, read when a model is resolved (not when the
registry is built) so a server picks up the environment it runs with. ``docs/providers.md``
lists every provider with its variables; in short:

* the OpenAI-compatible family (:data:`OPENAI_COMPATIBLE`) shares one adapter,
  :class:`~agentspan.server.providers.openai.OpenAIProvider`, with per-provider defaults. Each
  reads ``<PREFIX>_API_KEY`` and honours ``<PREFIX>_BASE_URL``. ``openai`` with a base URL and
  no key sends no ``Authorization`` header (local servers); ``ollama`` never needs a key;
* native HTTP providers (:data:`NATIVE_HTTP`: Anthropic, Gemini) have their own adapters,
  imported only when such a model is resolved;
* cloud providers with their own auth chains (Vertex AI, Bedrock, Cohere) use the vendor SDK,
  installed as an optional extra; without it, resolving the model says what to install.

All HTTP adapters share one ``httpx.AsyncClient`` (one connection pool, closed by
:meth:`ProviderRegistry.aclose`). A missing credential fails at once with a non-retryable
:class:`ProviderError` naming the variable to set, never echoing a value.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import httpx

import agentspan.server.providers.bedrock as bedrock
import agentspan.server.providers.cohere as cohere
import agentspan.server.providers.vertex as vertex
from agentspan.server.providers.base import Provider, ProviderError
from agentspan.server.providers.offline import OfflineProvider
from agentspan.server.providers.openai import DEFAULT_AZURE_API_VERSION, DEFAULT_BASE_URL, OpenAIProvider
from agentspan.server.providers.redaction import env_secrets
from agentspan.server.providers.scripted import ScriptedProvider

_LOCAL_PROVIDERS = frozenset({"offline", "scripted"})
"""Providers that never leave the process (allowed even when model requests are off)."""
_MODEL_FORMAT = "model must look like 'provider/model-name', e.g. 'openai/gpt-4o'"

Build = Callable[[], Provider]
Factory = Callable[[Mapping[str, str]], tuple[tuple[str, ...], Build]]
CallerFactory = Callable[[str, Mapping[str, str]], tuple[tuple[str, ...], Build]]
"""Builds a keyless adapter for an endpoint the agent spec names (not the operator)."""


@dataclass(frozen=True, slots=True)
class OpenAICompatible:
    """One provider served by the OpenAI Chat Completions adapter."""

    name: str
    label: str
    """Names the provider in error messages; providers sharing a label share an adapter."""
    key_envs: tuple[str, ...]
    """Variables holding the API key, first set one wins; empty: no key needed."""
    base_url_env: str
    default_base_url: str | None
    host_env: str | None = None
    """A host/endpoint variable the base URL is built from when ``base_url_env`` is unset."""
    host_path: str = ""
    """Appended to the ``host_env`` value (Ollama serves its OpenAI API under ``/v1``)."""
    key_optional_with_base_url: bool = False
    azure: bool = False
    stream_usage_option: bool = True


OPENAI_COMPATIBLE: tuple[OpenAICompatible, ...] = (
    OpenAICompatible(
        "openai",
        "OpenAI",
        ("OPENAI_API_KEY",),
        "OPENAI_BASE_URL",
        DEFAULT_BASE_URL,
        key_optional_with_base_url=True,
    ),
    OpenAICompatible(
        "azure_openai",
        "Azure OpenAI",
        ("AZURE_OPENAI_API_KEY",),
        "AZURE_OPENAI_BASE_URL",
        None,
        host_env="AZURE_OPENAI_ENDPOINT",
        azure=True,
    ),
    OpenAICompatible("groq", "Groq", ("GROQ_API_KEY",), "GROQ_BASE_URL", "https://api.groq.com/openai/v1"),
    OpenAICompatible(
        "deepseek", "DeepSeek", ("DEEPSEEK_API_KEY",), "DEEPSEEK_BASE_URL", "https://api.deepseek.com/v1"
    ),
    # Mistral rejects unknown request fields (HTTP 422), stream_options included; it reports
    # usage on the last stream chunk without being asked.
    OpenAICompatible(
        "mistral",
        "Mistral",
        ("MISTRAL_API_KEY",),
        "MISTRAL_BASE_URL",
        "https://api.mistral.ai/v1",
        stream_usage_option=False,
    ),
    OpenAICompatible("grok", "xAI", ("XAI_API_KEY",), "XAI_BASE_URL", "https://api.x.ai/v1"),
    OpenAICompatible("xai", "xAI", ("XAI_API_KEY",), "XAI_BASE_URL", "https://api.x.ai/v1"),
    OpenAICompatible(
        "perplexity",
        "Perplexity",
        ("PERPLEXITY_API_KEY",),
        "PERPLEXITY_BASE_URL",
        "https://api.perplexity.ai",
    ),
    OpenAICompatible(
        "together", "Together AI", ("TOGETHER_API_KEY",), "TOGETHER_BASE_URL", "https://api.together.xyz/v1"
    ),
    OpenAICompatible(
        "openrouter",
        "OpenRouter",
        ("OPENROUTER_API_KEY",),
        "OPENROUTER_BASE_URL",
        "https://openrouter.ai/api/v1",
    ),
    OpenAICompatible(
        "hugging_face",
        "Hugging Face",
        ("HUGGINGFACE_API_KEY", "HF_TOKEN"),
        "HUGGINGFACE_BASE_URL",
        "https://router.huggingface.co/v1",
    ),
    OpenAICompatible(
        "ollama",
        "Ollama",
        (),
        "OLLAMA_BASE_URL",
        "http://localhost:11434/v1",
        host_env="OLLAMA_HOST",
        host_path="/v1",
    ),
)


@dataclass(frozen=True, slots=True)
class NativeHttp:
    """A provider with its own HTTP adapter class, built as ``cls(key, base_url, client=...)``."""

    name: str
    key_envs: tuple[str, ...]
    base_url_env: str
    default_base_url: str
    module: str
    """Module under ``agentspan.server.providers``; imported only when a model needs it."""
    class_name: str


NATIVE_HTTP: tuple[NativeHttp, ...] = (
    NativeHttp(
        "anthropic",
        ("ANTHROPIC_API_KEY",),
        "ANTHROPIC_BASE_URL",
        "https://api.anthropic.com",
        "anthropic",
        "AnthropicProvider",
    ),
    NativeHttp(
        "google_gemini",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
        "gemini",
        "GeminiProvider",
    ),
    NativeHttp(
        "google",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
        "gemini",
        "GeminiProvider",
    ),
)


class ProviderRegistry:
    """Resolves model strings to shared adapters; one per provider configuration."""

    def __init__(
        self, env: Mapping[str, str] | None = None, *, http_client: httpx.AsyncClient | None = None
    ) -> None:
        """``http_client`` replaces the shared client the registry would create (a proxy-aware
        client, or a mock transport in tests); one passed in is left open by :meth:`aclose`."""
        self._env = env
        # Keyed by provider family plus its configuration, so a changed environment gets a
        # fresh adapter instead of silently reusing stale credentials.
        self._adapters: dict[tuple[str, ...], Provider] = {}
        self._client = http_client
        self._owns_client = http_client is None
        self._factories: dict[str, Factory] = {
            "offline": self._offline,
            "scripted": self._scripted,
            "google_vertex_ai": self._vertex,
            "aws_bedrock": self._bedrock,
            "cohere": self._cohere,
        }
        self._caller_factories: dict[str, CallerFactory] = {}
        self._key_envs: dict[str, tuple[str, ...]] = {"cohere": ("COHERE_API_KEY",)}
        for compatible in OPENAI_COMPATIBLE:
            self._key_envs[compatible.name] = compatible.key_envs
            self._factories[compatible.name] = functools.partial(self._openai_compatible, compatible)
            self._caller_factories[compatible.name] = functools.partial(
                self._openai_compatible_at, compatible
            )
        for native in NATIVE_HTTP:
            self._key_envs[native.name] = native.key_envs
            self._factories[native.name] = functools.partial(self._native_http, native)
            self._caller_factories[native.name] = functools.partial(self._native_http_at, native)

    @property
    def provider_names(self) -> list[str]:
        """The provider prefixes this registry understands, sorted."""
        return sorted(self._factories)

    def key_envs(self, provider_name: str) -> tuple[str, ...]:
        """The variables a provider's key is read from (empty: it takes none)."""
        return self._key_envs.get(provider_name, ())

    def key_in_environment(self, provider_name: str) -> bool:
        """Whether the server's environment holds the provider's key (not the value)."""
        return self._first_setting(self.key_envs(provider_name), self._environ()) is not None

    def key_names(self, model: str) -> tuple[str, ...]:
        """The variables that would hold ``model``'s API key and are unset in the
        environment: what the credential store may supply (``resolve(stored=...)``).
        Empty when the environment has a key, or the provider takes none."""
        names = self._key_envs.get(model.partition("/")[0].strip(), ())
        if self._first_setting(names, self._environ()) is not None:
            return ()
        return names

    def model_problem(self, model: str) -> str | None:
        """Why ``model`` names no provider of this registry (malformed, or an unknown
        prefix), or None. Checked when an execution starts; whether the provider is
        configured (its key, its SDK) is only known when a call is made."""
        provider_name, sep, model_name = (part.strip() for part in model.partition("/"))
        if not sep or not provider_name or not model_name:
            return f"{_MODEL_FORMAT}; got {model!r}"
        if provider_name not in self._factories:
            return (
                f"unknown model provider {provider_name!r} in {model!r}; "
                f"valid providers: {', '.join(self.provider_names)}"
            )
        return None

    def resolve(
        self, model: str, caller_base_url: str | None = None, stored: Mapping[str, str] | None = None
    ) -> tuple[Provider, str]:
        """Return the adapter for ``model`` and the model name without its provider prefix.

        ``caller_base_url`` is an endpoint the agent spec names (``baseUrl``, checked
        against the operator's allow-list at start): an HTTP provider then gets an adapter
        for that URL with no key at all. The server's keys only ever go to the endpoints
        its environment configures. SDK providers (Vertex, Bedrock, Cohere) ignore it.

        ``stored``: API keys from the credential store (``key_names``), used only for the
        provider's key variables the environment leaves unset, so a key set with
        ``agentspan credentials set OPENAI_API_KEY`` works without a restart."""
        problem = self.model_problem(model)
        if problem is not None:
            raise ProviderError(problem, retryable=False)
        provider_name, _, model_name = (part.strip() for part in model.partition("/"))
        factory = self._factories[provider_name]
        if provider_name not in _LOCAL_PROVIDERS and not self._model_requests_allowed():
            raise ProviderError(
                f"real model requests are disabled (AGENTSPAN_ALLOW_MODEL_REQUESTS=false) but the agent "
                f"uses {model!r}; use offline/... or ScriptedModel in tests",
                retryable=False,
            )
        env = self._with_stored(provider_name, stored)
        caller_factory = self._caller_factories.get(provider_name)
        if caller_base_url and caller_factory is not None:
            key, build = caller_factory(caller_base_url, env)
        else:
            key, build = factory(env)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._adapters[key] = build()
        return adapter, model_name

    def openai_endpoint(
        self, provider_name: str, stored: Mapping[str, str] | None = None
    ) -> tuple[str, str | None]:
        """The base URL and API key the server uses for ``provider_name``, one of the
        OpenAI-compatible family, for its APIs other than chat (images, speech): the same
        variables, stored keys and refusals as a model call of that provider."""
        spec = next((c for c in OPENAI_COMPATIBLE if c.name == provider_name and not c.azure), None)
        if spec is None:
            raise ProviderError(f"{provider_name!r} is not an OpenAI-compatible provider", retryable=False)
        if not self._model_requests_allowed():
            raise ProviderError(
                f"real model requests are disabled (AGENTSPAN_ALLOW_MODEL_REQUESTS=false); {provider_name} "
                "cannot be called",
                retryable=False,
            )
        env = self._with_stored(provider_name, stored)
        self._openai_compatible(spec, env)  # the same refusal as a model call when unconfigured
        base_url = self._setting(spec.base_url_env, env)
        if base_url is None and spec.host_env is not None:
            host = self._setting(spec.host_env, env)
            base_url = _with_scheme(host).rstrip("/") + spec.host_path if host else None
        return (base_url or cast(str, spec.default_base_url)), self._first_setting(spec.key_envs, env)

    def secrets(self) -> tuple[str, ...]:
        """The credentials in the server's environment, which no model answer may carry
        (``redaction.Masked``; read now, like the keys themselves)."""
        return env_secrets(self._environ())

    async def aclose(self) -> None:
        """Close every adapter and the shared HTTP client."""
        adapters = list(self._adapters.values())
        self._adapters.clear()
        for adapter in adapters:
            await adapter.aclose()
        if self._client is not None and self._owns_client:
            client, self._client = self._client, None
            await client.aclose()

    def _model_requests_allowed(self) -> bool:
        # A test switch: with it off, nothing can reach a paid or remote model by mistake.
        flag = self._environ().get("AGENTSPAN_ALLOW_MODEL_REQUESTS", "").strip().lower()
        return flag not in ("0", "false", "no", "off")

    def _environ(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    def _with_stored(self, provider_name: str, stored: Mapping[str, str] | None) -> Mapping[str, str]:
        """The environment, with stored values for the provider's unset key variables."""
        environ = self._environ()
        names = self._key_envs.get(provider_name, ())
        extra = {n: v for n, v in (stored or {}).items() if n in names and not environ.get(n, "").strip()}
        return ChainMap(extra, dict(environ)) if extra else environ

    @staticmethod
    def _setting(name: str, env: Mapping[str, str]) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    def _first_setting(self, names: tuple[str, ...], env: Mapping[str, str]) -> str | None:
        return next((v for v in (self._setting(n, env) for n in names) if v is not None), None)

    def _shared_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    def _offline(self, env: Mapping[str, str]) -> tuple[tuple[str, ...], Build]:
        return ("offline",), OfflineProvider

    def _scripted(self, env: Mapping[str, str]) -> tuple[tuple[str, ...], Build]:
        # Test double: replies come from turns in the agent spec (agentspan.agents.testing).
        return ("scripted",), ScriptedProvider

    def _openai_compatible(
        self, spec: OpenAICompatible, env: Mapping[str, str]
    ) -> tuple[tuple[str, ...], Build]:
        api_key = self._first_setting(spec.key_envs, env)
        base_url = self._setting(spec.base_url_env, env)
        if base_url is None and spec.host_env is not None:
            host = self._setting(spec.host_env, env)
            base_url = _with_scheme(host).rstrip("/") + spec.host_path if host else None
        missing: list[str] = []
        key_missing = bool(spec.key_envs) and api_key is None
        if key_missing and not (spec.key_optional_with_base_url and base_url):
            missing.append(" or ".join(spec.key_envs))
        if base_url is None and spec.default_base_url is None:
            missing.append(spec.host_env or spec.base_url_env)
        if missing:
            hint = f" (or {spec.base_url_env} for a local OpenAI-compatible server)"
            raise ProviderError(
                f"{spec.name} models need {_env_phrase(*missing)}"
                f"{hint if spec.key_optional_with_base_url else ''}"
                f"{_key_fix(spec.key_envs) if key_missing else ''}",
                retryable=False,
            )
        url = base_url or cast(str, spec.default_base_url)
        return (spec.label, api_key or "", url, self._azure_version(spec, env)), self._openai_build(
            spec, api_key, url, env
        )

    def _openai_compatible_at(
        self, spec: OpenAICompatible, url: str, env: Mapping[str, str]
    ) -> tuple[tuple[str, ...], Build]:
        """The caller's endpoint: no key of the server's goes with it."""
        version = self._azure_version(spec, env)
        return ("caller", spec.label, url, version), self._openai_build(spec, None, url, env)

    def _azure_version(self, spec: OpenAICompatible, env: Mapping[str, str]) -> str:
        if not spec.azure:
            return ""
        return self._setting("AZURE_OPENAI_API_VERSION", env) or DEFAULT_AZURE_API_VERSION

    def _openai_build(
        self, spec: OpenAICompatible, api_key: str | None, url: str, env: Mapping[str, str]
    ) -> Build:
        api_version = self._azure_version(spec, env) or None

        def build() -> Provider:
            return OpenAIProvider(
                api_key,
                url,
                client=self._shared_client(),
                label=spec.label,
                azure_api_version=api_version,
                stream_usage_option=spec.stream_usage_option,
            )

        return build

    def _native_http(self, spec: NativeHttp, env: Mapping[str, str]) -> tuple[tuple[str, ...], Build]:
        api_key = self._first_setting(spec.key_envs, env)
        if api_key is None:
            raise ProviderError(
                f"{spec.name} models need {_env_phrase(' or '.join(spec.key_envs))}{_key_fix(spec.key_envs)}",
                retryable=False,
            )
        url = self._setting(spec.base_url_env, env) or spec.default_base_url
        return (spec.module, api_key, url), self._native_build(spec, api_key, url)

    def _native_http_at(
        self, spec: NativeHttp, url: str, env: Mapping[str, str]
    ) -> tuple[tuple[str, ...], Build]:
        """The caller's endpoint: no key of the server's goes with it."""
        return ("caller", spec.module, url), self._native_build(spec, None, url)

    def _native_build(self, spec: NativeHttp, api_key: str | None, url: str) -> Build:
        # Imported here, not at the top: the adapter is only needed once such a model is used.
        module_name = f"agentspan.server.providers.{spec.module}"
        try:
            adapter_class = getattr(importlib.import_module(module_name), spec.class_name)
        except (ImportError, AttributeError) as exc:
            raise ProviderError(
                f"{spec.name} models are not available in this installation ({type(exc).__name__}: {exc})",
                retryable=False,
            ) from None

        def build() -> Provider:
            return cast(Provider, adapter_class(api_key, url, client=self._shared_client()))

        return build

    def _vertex(self, env: Mapping[str, str]) -> tuple[tuple[str, ...], Build]:
        sdk = vertex.load_sdk()
        project = self._setting("GOOGLE_CLOUD_PROJECT", env)
        if project is None:
            raise ProviderError(
                f"google_vertex_ai models need {_env_phrase('GOOGLE_CLOUD_PROJECT')} (credentials come "
                "from Application Default Credentials, e.g. `gcloud auth application-default login`)",
                retryable=False,
            )
        location = self._setting("GOOGLE_CLOUD_LOCATION", env) or vertex.DEFAULT_LOCATION
        return ("google_vertex_ai", project, location), lambda: vertex.VertexProvider(sdk, project, location)

    def _bedrock(self, env: Mapping[str, str]) -> tuple[tuple[str, ...], Build]:
        sdk = bedrock.load_sdk()
        # Without a region here, boto3 still finds one in ~/.aws/config; credentials always come
        # from boto3's own chain (env, profile, SSO, instance/task role).
        region = self._first_setting(("AWS_REGION", "AWS_DEFAULT_REGION"), env)
        return ("aws_bedrock", region or ""), lambda: bedrock.BedrockProvider(sdk, region)

    def _cohere(self, env: Mapping[str, str]) -> tuple[tuple[str, ...], Build]:
        sdk = cohere.load_sdk()
        api_key = self._setting("COHERE_API_KEY", env)
        if api_key is None:
            raise ProviderError(
                f"cohere models need {_env_phrase('COHERE_API_KEY')}{_key_fix(('COHERE_API_KEY',))}",
                retryable=False,
            )
        base_url = self._setting("COHERE_BASE_URL", env)

        def build() -> Provider:
            return cohere.CohereProvider(sdk, api_key, base_url, http_client=self._shared_client())

        return ("cohere", api_key, base_url or ""), build


def _env_phrase(*names: str) -> str:
    """E.g. ``GROQ_API_KEY set in the environment``; each name may itself be ``A or B``."""
    return f"{' and '.join(names)} set in the environment"


def _key_fix(key_envs: tuple[str, ...]) -> str:
    """How to give a running server the key without a restart (the credential store)."""
    if not key_envs:
        return ""
    # A server started in the background keeps the environment it started with: a key
    # exported afterwards is not seen, which is the usual first-hour surprise.
    return (
        " (export it before starting the server: a running server does not see later exports)"
        f", or store it with: agentspan credentials set {key_envs[0]}"
    )


def _with_scheme(host: str) -> str:
    # OLLAMA_HOST is often a bare bind address such as "0.0.0.0:11434" (Ollama's own convention).
    return host if "://" in host else f"http://{host}"
