"""The public facade is exactly these names; changing it is a deliberate API change."""

from __future__ import annotations

import pytest

import agentspan.agents as agents

EXPECTED = {
    "is_tracing_enabled",
    "Agent",
    "SkillLoadError",
    "load_skills",
    "skill",
    "CliConfig",
    "CodeExecutionConfig",
    "CodeExecutor",
    "DockerCodeExecutor",
    "ExecutionResult",
    "JupyterCodeExecutor",
    "LocalCodeExecutor",
    "ServerlessCodeExecutor",
    "AgentAPIError",
    "AgentConfig",
    "AgentDef",
    "AgentEvent",
    "AgentHandle",
    "AgentNotFoundError",
    "AgentResult",
    "AgentRuntime",
    "AgentStatus",
    "AgentStream",
    "AgentspanError",
    "AsyncAgentStream",
    "CallbackHandler",
    "ConfigurationError",
    "CredentialFile",
    "ConversationMemory",
    "CredentialAuthError",
    "CredentialNotFoundError",
    "CredentialRateLimitError",
    "CredentialServiceError",
    "DeploymentInfo",
    "EventType",
    "FinishReason",
    "Guardrail",
    "GuardrailDef",
    "GuardrailResult",
    "HandoffCondition",
    "LLMGuardrail",
    "MaxMessageTermination",
    "MemoryEntry",
    "MemoryStore",
    "OnCondition",
    "OnFail",
    "OnTextMention",
    "OnToolResult",
    "Position",
    "PromptTemplate",
    "RegexGuardrail",
    "RunResult",
    "Runner",
    "SemanticMemory",
    "ServerMemoryStore",
    "Status",
    "StopMessageTermination",
    "Strategy",
    "TerminalToolError",
    "TerminationCondition",
    "TerminationResult",
    "TextMentionTermination",
    "TokenUsage",
    "TokenUsageTermination",
    "ToolContext",
    "ToolDef",
    "agent",
    "agent_tool",
    "api_tool",
    "audio_tool",
    "configure",
    "deploy",
    "deploy_async",
    "discover_agents",
    "function_tool",
    "get_credential",
    "guardrail",
    "http_tool",
    "human_tool",
    "image_tool",
    "index_tool",
    "mcp_tool",
    "pdf_tool",
    "resolve_credentials",
    "plan",
    "resume",
    "resume_async",
    "run",
    "run_async",
    "scatter_gather",
    "search_tool",
    "serve",
    "shutdown",
    "start",
    "start_async",
    "stream",
    "stream_async",
    "tool",
    "video_tool",
    "wait_for_message_tool",
}


def test_all_is_pinned() -> None:
    assert set(agents.__all__) == EXPECTED
    assert len(agents.__all__) == len(EXPECTED)


def test_every_exported_name_exists() -> None:
    for name in agents.__all__:
        assert getattr(agents, name) is not None, name


def test_sdk_does_not_import_the_server() -> None:
    import subprocess
    import sys

    code = "import sys, agentspan.agents; print([m for m in sys.modules if m.startswith('agentspan.server')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_skill_prompt_helpers_are_importable_but_not_listed() -> None:
    from agentspan.agents import format_prompt_with_params, format_skill_params

    assert format_skill_params({"a": 1}) == "[Skill Parameters]\na: 1"
    assert callable(format_prompt_with_params)
    assert "format_skill_params" not in agents.__all__
    with pytest.raises(AttributeError):
        agents.no_such_name  # noqa: B018 - the lazy lookup still refuses unknown names


def test_skill_is_the_function_even_after_its_module_is_imported() -> None:
    import importlib

    module = importlib.import_module("agentspan.agents.skill")
    from agentspan.agents import skill

    assert callable(skill) and skill is module.skill
