"""``@tool(isolated=True)``: each call runs in a fresh Python process that holds only the
tool's declared credentials.

No pickling: the child imports the tool's function by its module and qualified name
(``import_path``, checked when the tool is defined: a closure, a lambda or a function of
the ``__main__`` script cannot be imported so and is refused), receives the call's JSON
arguments (and ``ToolContext`` fields) on stdin, and writes its JSON result (or error) to
a file in its private directory. Its environment is built from nothing: ``PATH``, a
locale, ``HOME`` and ``TMPDIR`` set to a private 0700 directory removed afterwards, and
the declared credentials (a ``CredentialFile`` as a 0600 file under that ``HOME``, its
variable holding the path). Nothing else of the worker's environment reaches it.

Run the child with ``python -m agentspan._core.isolated`` (the worker does).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from agentspan._core.errors import ConfigurationError

_BASE_ENV = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
"""What the child keeps of the worker's environment: finding programs and the locale."""
RESULT_FILE = "result.json"


class IsolatedCallError(Exception):
    """The isolated call failed; ``retryable`` as the worker should report it."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def import_path(func: Callable[..., Any], tool_name: str) -> tuple[str, str]:
    """The module and qualified name the child imports ``func`` by; ``ConfigurationError``
    when it has none."""
    func = inspect.unwrap(func)
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", "")
    problem = None
    if not module or not qualname:
        problem = "it has no module and name to import it by"
    elif "<locals>" in qualname or "<lambda>" in qualname:
        problem = f"{qualname!r} is defined inside a function (a closure or lambda)"
    elif module == "__main__":
        problem = "it is defined in the script being run (__main__), which a new process cannot import"
    if problem:
        raise ConfigurationError(
            f"tool {tool_name!r} cannot be isolated: {problem}; define it at the top level of a module "
            "(e.g. tools.py) and import it from there"
        )
    return str(module), qualname


async def run_isolated(
    func: Callable[..., Any],
    tool_name: str,
    arguments: dict[str, Any],
    context: dict[str, Any] | None,
    values: Mapping[str, str],
    files: Mapping[str, str],
    timeout: float | None,
) -> tuple[Any, dict[str, Any] | None]:
    """Run one call in a child process; its JSON output and the tool state it returns
    (when the tool takes a context). ``IsolatedCallError`` when the call failed,
    ``TimeoutError`` after ``timeout`` seconds (the child is killed)."""
    module, qualname = import_path(func, tool_name)
    home = tempfile.mkdtemp(prefix="agentspan-isolated-")
    try:
        env = {name: os.environ[name] for name in _BASE_ENV if name in os.environ}
        env.update({"HOME": home, "TMPDIR": home, "PYTHONDONTWRITEBYTECODE": "1", **values})
        request = {
            "module": module,
            "qualname": qualname,
            "arguments": arguments,
            "context": context,
            "files": dict(files),
            "sysPath": [p for p in sys.path if p],
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentspan._core.isolated",
            stdin=asyncio.subprocess.PIPE,
            env=env,
            cwd=os.getcwd(),
        )
        try:
            async with asyncio.timeout(timeout):
                await process.communicate(json.dumps(request).encode())
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        return _outcome(os.path.join(home, RESULT_FILE), process.returncode)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _outcome(path: str, returncode: int | None) -> tuple[Any, dict[str, Any] | None]:
    try:
        with open(path, encoding="utf-8") as handle:
            answer = json.load(handle)
    except (OSError, ValueError):
        raise IsolatedCallError(
            f"the isolated process ended (exit code {returncode}) without a result", retryable=True
        ) from None
    if "error" in answer:
        raise IsolatedCallError(str(answer["error"]), retryable=bool(answer.get("retryable", True)))
    return answer.get("output"), answer.get("state")


# --- the child ---------------------------------------------------------------------------


def _child() -> None:
    request = json.loads(sys.stdin.buffer.read())
    home = os.environ["HOME"]
    try:
        answer = _call(request, home)
    except BaseException as exc:  # noqa: BLE001 - reported to the worker, which decides
        answer = {"error": f"{type(exc).__name__}: {exc}", "retryable": _retryable(exc)}
    with open(os.path.join(home, RESULT_FILE), "w", encoding="utf-8") as handle:
        json.dump(answer, handle)


def _call(request: dict[str, Any], home: str) -> dict[str, Any]:
    from agentspan._core.credentials import provided
    from agentspan._core.schema import coerce_arguments, context_parameter
    from agentspan._core.tool import ToolContext, encode_tool_result

    sys.path[:0] = [p for p in request["sysPath"] if p not in sys.path]
    target: Any = importlib.import_module(request["module"])
    for part in str(request["qualname"]).split("."):
        target = getattr(target, part)
    func = getattr(getattr(target, "_tool_def", None), "func", None) or target
    kwargs = coerce_arguments(func, request["arguments"])
    context = None
    name = context_parameter(func)
    if name is not None:
        context = ToolContext(**(request["context"] or {}))
        kwargs[name] = context
    names = [n for n in os.environ if n not in (*_BASE_ENV, "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE")]
    values = {n: os.environ[n] for n in names}
    files = {n: p for n, p in request["files"].items() if n in values}
    with provided(values, files):
        result = func(**kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    return {"output": encode_tool_result(result), "state": context.state if context is not None else None}


async def _awaited(result: Any) -> Any:
    return await result


def _retryable(exc: BaseException) -> bool:
    from agentspan._core.errors import TerminalToolError, ToolSerializationError

    return not isinstance(exc, TerminalToolError | ToolSerializationError | ImportError | AttributeError)


if __name__ == "__main__":
    _child()
