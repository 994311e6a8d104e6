"""Code and command execution settings of an agent (reference API §4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from agentspan.protocol.spec._parts import SpecPart

Seconds = Annotated[int | float, Field(gt=0)]
"""A timeout; an int stays an int on the wire."""


class CodeExecutionSpec(SpecPart):
    """The auto-attached ``execute_code`` tool: languages and shell commands it may use."""

    enabled: bool = True
    allowed_languages: list[str] | None = None
    allowed_commands: list[str] | None = None
    """Empty: unrestricted."""
    timeout: Seconds | None = None


class CliSpec(SpecPart):
    """The auto-attached ``run_command`` tool."""

    enabled: bool = True
    allowed_commands: list[str] | None = None
    timeout: Seconds | None = None
    allow_shell: bool | None = None
