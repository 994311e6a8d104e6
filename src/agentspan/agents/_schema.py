"""Tool schemas and argument coercion, now in ``agentspan._core.schema`` (the worker uses them
too); this name stays for code that imported them from here."""

from agentspan._core.schema import (
    DocInfo,
    ParamInfo,
    coerce_arguments,
    context_parameter,
    input_schema_for,
    output_schema_for,
    parse_docstring,
    tool_parameters,
)

__all__ = [
    "DocInfo",
    "ParamInfo",
    "coerce_arguments",
    "context_parameter",
    "input_schema_for",
    "output_schema_for",
    "parse_docstring",
    "tool_parameters",
]
