"""Test agents without a server or a model: scripted runs, assertions, record/replay, evals.

``mock_run`` turns a scripted list of events (built with ``MockEvent``) into an
``AgentResult``, running the agent's own tools; the ``assert_*`` functions and the fluent
``expect(result)`` check any result, live or mocked; ``record``/``replay`` save a result
to JSON and load it back; ``validate_strategy`` checks a multi-agent run against its
strategy; ``CorrectnessEval`` runs ``EvalCase`` objects against a runtime. The pytest
plugin (``agentspan.agents.testing.pytest_plugin``) adds the ``mock_agent_run`` and
``event`` fixtures.
"""

from agentspan.agents._scripted import ScriptedModel, ToolCall, scripted_or_live
from agentspan.agents.testing._assertions import (
    assert_agent_ran,
    assert_event_sequence,
    assert_events_contain,
    assert_guardrail_failed,
    assert_guardrail_passed,
    assert_handoff_to,
    assert_max_turns,
    assert_no_errors,
    assert_output_contains,
    assert_output_matches,
    assert_output_type,
    assert_status,
    assert_tool_call_order,
    assert_tool_called_with,
    assert_tool_not_used,
    assert_tool_used,
    assert_tools_used_exactly,
)
from agentspan.agents.testing._eval import (
    CorrectnessEval,
    EvalCase,
    EvalCaseResult,
    EvalCheckResult,
    EvalSuiteResult,
)
from agentspan.agents.testing._mock import MockEvent, mock_run
from agentspan.agents.testing._record import record, replay
from agentspan.agents.testing._strategy import (
    StrategyViolation,
    validate_constrained_transitions,
    validate_handoff,
    validate_parallel,
    validate_round_robin,
    validate_router,
    validate_sequential,
    validate_strategy,
    validate_swarm,
)

# ``expect`` is a submodule (the reference's path) and the function: importing from the
# submodule first makes the function win, whatever imports the submodule later.
from agentspan.agents.testing.expect import AgentResultExpectation, expect

__all__ = [
    "ScriptedModel",
    "ToolCall",
    "scripted_or_live",
    "AgentResultExpectation",
    "CorrectnessEval",
    "EvalCase",
    "EvalCaseResult",
    "EvalCheckResult",
    "EvalSuiteResult",
    "MockEvent",
    "StrategyViolation",
    "assert_agent_ran",
    "assert_event_sequence",
    "assert_events_contain",
    "assert_guardrail_failed",
    "assert_guardrail_passed",
    "assert_handoff_to",
    "assert_max_turns",
    "assert_no_errors",
    "assert_output_contains",
    "assert_output_matches",
    "assert_output_type",
    "assert_status",
    "assert_tool_call_order",
    "assert_tool_called_with",
    "assert_tool_not_used",
    "assert_tool_used",
    "assert_tools_used_exactly",
    "expect",
    "mock_run",
    "record",
    "replay",
    "validate_constrained_transitions",
    "validate_handoff",
    "validate_parallel",
    "validate_round_robin",
    "validate_router",
    "validate_sequential",
    "validate_strategy",
    "validate_swarm",
]
