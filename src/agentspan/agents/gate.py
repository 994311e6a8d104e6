"""Gates: stop a sequential pipeline early, after the agent that carries the gate."""

from __future__ import annotations

import dataclasses
from typing import Any

from agentspan.protocol.spec import TextGateSpec

__all__ = ["TextGate"]


@dataclasses.dataclass
class TextGate:
    """Stop the pipeline after this agent when its output contains ``text``.

    Evaluated by the server. For custom logic pass a function as ``Agent(gate=...)``: it
    receives ``{"result": <output>}`` and returns truthy to continue, falsy to stop.
    """

    text: str
    case_sensitive: bool = True

    def should_stop(self, output: str) -> bool:
        """Whether ``output`` stops the pipeline (the server applies the same rule)."""
        if self.case_sensitive:
            return self.text in output
        return self.text.lower() in output.lower()

    def to_spec(self) -> TextGateSpec:
        """The typed wire form the server evaluates."""
        return TextGateSpec(type="text_contains", text=self.text, case_sensitive=self.case_sensitive)

    def to_config(self) -> dict[str, Any]:
        """:meth:`to_spec` as a dict."""
        return self.to_spec().wire()
