"""Agent kinds beyond the model-driven ``Agent``, at the reference's module path.

``UserProxyAgent`` puts a person in a team: when its turn comes, the run waits durably for
that person's message (``handle.send(text)`` or ``respond({"message": text})``, from any
process, days later if need be), and the message is its answer. ``GPTAssistantAgent`` is
refused with the reason (see its docstring).
"""

from __future__ import annotations

from typing import Any

from agentspan.agents._agent import Agent
from agentspan.agents._errors import ConfigurationError

__all__ = ["GPTAssistantAgent", "UserProxyAgent"]

_MODES = ("ALWAYS", "TERMINATE", "NEVER")

_PROXY_INSTRUCTIONS = "You stand for a person: their messages are your answers."


class UserProxyAgent(Agent):
    """A person as a member of a team.

    ``human_input_mode``: ``"ALWAYS"`` asks the person at every turn; ``"TERMINATE"`` asks
    only when the conversation says ``TERMINATE``, and otherwise answers
    ``default_response``; ``"NEVER"`` always answers ``default_response``. No model is
    called (``model`` is accepted for the reference's signature).
    """

    def __init__(
        self,
        name: str = "user",
        human_input_mode: str = "ALWAYS",
        default_response: str = "Continue.",
        model: str | Any = "openai/gpt-4o",
        instructions: str = "",
        **kwargs: Any,
    ) -> None:
        if human_input_mode not in _MODES:
            raise ValueError(f"human_input_mode must be one of {', '.join(_MODES)}, not {human_input_mode!r}")
        metadata = dict(kwargs.pop("metadata", None) or {})
        metadata.update(
            _agent_type="user_proxy",
            _human_input_mode=human_input_mode,
            _default_response=default_response,
        )
        super().__init__(
            name=name,
            model=model,
            instructions=instructions or _PROXY_INSTRUCTIONS,
            metadata=metadata,
            **kwargs,
        )
        self.human_input_mode = human_input_mode
        self.default_response = default_response


class GPTAssistantAgent(Agent):
    """An agent backed by an OpenAI Assistant: refused.

    It needs OpenAI's Assistants API, which OpenAI deprecated in favour of the Responses
    API; this runtime makes the model calls itself instead. Build an ``Agent`` with
    ``model="openai/<model>"``, the assistant's instructions and tools.
    """

    def __init__(self, name: str, assistant_id: str | None = None, *args: Any, **kwargs: Any) -> None:
        which = f" (assistant {assistant_id!r})" if assistant_id else ""
        raise ConfigurationError(
            f"GPTAssistantAgent {name!r}{which} is not supported: it needs OpenAI's deprecated Assistants "
            "API. Use Agent(name=..., model='openai/<model>', instructions=..., tools=[...]) instead."
        )
