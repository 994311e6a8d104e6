"""Provider keys from the credential store (ProviderRegistry.key_names / resolve(stored=)):
used only for a provider's own key variables the environment leaves unset."""

from __future__ import annotations

import pytest

from agentspan.server.providers import ProviderError, ProviderRegistry


def test_key_names_are_the_unset_key_variables_of_the_models_provider() -> None:
    registry = ProviderRegistry(env={})
    assert registry.key_names("openai/gpt-4o") == ("OPENAI_API_KEY",)
    assert registry.key_names("google_gemini/gemini-2.5") == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    assert registry.key_names("cohere/command") == ("COHERE_API_KEY",)
    for keyless in ("offline/basic", "scripted/x", "ollama/qwen3", "aws_bedrock/m", "nope/m", "bad"):
        assert registry.key_names(keyless) == ()
    assert ProviderRegistry(env={"OPENAI_API_KEY": "sk-env"}).key_names("openai/gpt-4o") == ()


def test_a_stored_key_fills_in_for_an_unset_variable_and_never_overrides_one() -> None:
    provider, name = ProviderRegistry(env={}).resolve("groq/llama", stored={"GROQ_API_KEY": "gsk-stored"})
    assert name == "llama" and getattr(provider, "_api_key", None) == "gsk-stored"
    env_first, _ = ProviderRegistry(env={"GROQ_API_KEY": "gsk-env"}).resolve(
        "groq/llama", stored={"GROQ_API_KEY": "gsk-stored"}
    )
    assert getattr(env_first, "_api_key", None) == "gsk-env"
    blank_env, _ = ProviderRegistry(env={"GROQ_API_KEY": " "}).resolve(
        "groq/llama", stored={"GROQ_API_KEY": "gsk-stored"}
    )
    assert getattr(blank_env, "_api_key", None) == "gsk-stored"


def test_stored_values_other_than_the_providers_key_are_ignored() -> None:
    # A stored base URL must not redirect the server's calls (or its keys) anywhere.
    stored = {"GROQ_API_KEY": "gsk", "GROQ_BASE_URL": "http://evil.example/v1", "OPENAI_API_KEY": "sk"}
    provider, _ = ProviderRegistry(env={}).resolve("groq/llama", stored=stored)
    assert getattr(provider, "_base_url", None) == "https://api.groq.com/openai/v1"
    with pytest.raises(ProviderError):
        ProviderRegistry(env={}).resolve("anthropic/claude", stored=stored)


@pytest.mark.parametrize(
    ("model", "variable"),
    [("groq/m", "GROQ_API_KEY"), ("anthropic/m", "ANTHROPIC_API_KEY"), ("google_gemini/m", "GEMINI_API_KEY")],
)
def test_a_missing_key_is_one_line_naming_the_command_that_fixes_it(model: str, variable: str) -> None:
    with pytest.raises(ProviderError) as error:
        ProviderRegistry(env={}).resolve(model)
    message = str(error.value)
    assert f"agentspan credentials set {variable}" in message and "\n" not in message
    assert not error.value.retryable
