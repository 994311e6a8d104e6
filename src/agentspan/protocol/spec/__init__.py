"""The agent spec: the typed JSON an ``Agent`` compiles to (``agentConfig`` on the wire).

One module per part: :mod:`.agent` (``AgentConfig``), :mod:`.tools` (the ``toolType``
union), :mod:`.guardrails`, :mod:`.conditions` (termination, handoffs, gates),
:mod:`.memory` (memory, callbacks, thinking), :mod:`.code`, :mod:`.credentials`, and
:mod:`.upgrade` (versions).
"""

from agentspan.protocol.spec._parts import SpecPart, TaskRef
from agentspan.protocol.spec.agent import NAME_PATTERN, AgentConfig, Strategy, parse_tool
from agentspan.protocol.spec.code import CliSpec, CodeExecutionSpec
from agentspan.protocol.spec.conditions import (
    CombinedSpec,
    GateSpec,
    HandoffSpec,
    MaxMessageSpec,
    OnConditionSpec,
    OnTextMentionSpec,
    OnToolResultSpec,
    StopMessageSpec,
    TerminationSpec,
    TextGateSpec,
    TextMentionSpec,
    TokenUsageSpec,
)
from agentspan.protocol.spec.credentials import CredentialName, CredentialRefs
from agentspan.protocol.spec.guardrails import (
    FunctionGuardrailSpec,
    GuardrailSpec,
    LlmGuardrailSpec,
    RegexGuardrailSpec,
)
from agentspan.protocol.spec.memory import CallbackSpec, MemorySpec, SessionStateSpec, ThinkingSpec
from agentspan.protocol.spec.tools import (
    DEFAULT_TOOL_RETRIES,
    DEFAULT_TOOL_RETRY_DELAY_SECONDS,
    AgentTool,
    AgentToolSettings,
    AnyTool,
    ApiSettings,
    ApiTool,
    HandoffSettings,
    HandoffTool,
    HttpSettings,
    HttpTool,
    HumanTool,
    McpSettings,
    McpTool,
    OtherTool,
    ToolConfig,
    ToolSettings,
    WorkerSettings,
    WorkerTool,
)
from agentspan.protocol.spec.upgrade import SPEC_SCHEMA_VERSION, upgrade

__all__ = [
    "DEFAULT_TOOL_RETRIES",
    "DEFAULT_TOOL_RETRY_DELAY_SECONDS",
    "NAME_PATTERN",
    "SPEC_SCHEMA_VERSION",
    "AgentConfig",
    "AgentTool",
    "AgentToolSettings",
    "AnyTool",
    "ApiSettings",
    "ApiTool",
    "CallbackSpec",
    "CliSpec",
    "CodeExecutionSpec",
    "CombinedSpec",
    "CredentialName",
    "CredentialRefs",
    "FunctionGuardrailSpec",
    "GateSpec",
    "GuardrailSpec",
    "HandoffSettings",
    "HandoffSpec",
    "HandoffTool",
    "HttpSettings",
    "HttpTool",
    "HumanTool",
    "LlmGuardrailSpec",
    "MaxMessageSpec",
    "McpSettings",
    "McpTool",
    "MemorySpec",
    "SessionStateSpec",
    "OnConditionSpec",
    "OnTextMentionSpec",
    "OnToolResultSpec",
    "OtherTool",
    "RegexGuardrailSpec",
    "SpecPart",
    "StopMessageSpec",
    "Strategy",
    "TaskRef",
    "TerminationSpec",
    "TextGateSpec",
    "TextMentionSpec",
    "ThinkingSpec",
    "TokenUsageSpec",
    "ToolConfig",
    "ToolSettings",
    "WorkerSettings",
    "WorkerTool",
    "parse_tool",
    "upgrade",
]
