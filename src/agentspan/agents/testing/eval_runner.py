"""``agentspan.agents.testing.eval_runner``: run ``EvalCase`` objects against a runtime."""

from agentspan.agents.testing._eval import (
    CorrectnessEval,
    EvalCase,
    EvalCaseResult,
    EvalCheckResult,
    EvalSuiteResult,
)

__all__ = ["CorrectnessEval", "EvalCase", "EvalCaseResult", "EvalCheckResult", "EvalSuiteResult"]
