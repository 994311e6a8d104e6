"""What an SDK or worker process loads: never the server, and not much else.

``pip install agentspan`` installs the whole product (server included, for
``agentspan server start``), so nothing stops the SDK from importing the server by
accident; these tests do. Each runs a fresh interpreter (``-I``: no PYTHONPATH, no user
site) and reads ``sys.modules``, which is deterministic, unlike wall time.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from typing import Any

# Server code and its dependencies: a worker must not pay for them.
SERVER_ONLY = ("fastapi", "starlette", "uvicorn", "asyncpg", "httptools", "uvloop", "agentspan.server")

# Modules newly loaded by `import agentspan.agents` (Python 3.11-3.13): 347 measured in
# December 2026, of which agentspan 61, pydantic 43, asyncio 29, httpx 23, email 15 (httpx).
# Not counted: what httpx loads for its optional command line whenever click and rich are
# installed (81 modules of click, rich and pygments here, where the test dependencies bring
# them; a user's install without them does not load them). The bound leaves room for small
# changes, not for a new dependency tree.
MAX_MODULES_FOR_THE_SDK = 400
HTTPX_CLI = ("click", "rich", "pygments", "markdown_it", "mdurl")

SDK_PROCESS = """
    import json, sys
    before = set(sys.modules)
    import agentspan.agents
    httpx_cli = HTTPX_CLI_NAMES
    imported = len([m for m in set(sys.modules) - before if m.split(".")[0] not in httpx_cli])

    from agentspan._core.schema import coerce_arguments
    from agentspan._core.tool import encode_tool_result
    from agentspan.agents import Agent, ToolContext, tool
    from agentspan.agents._serialize import serialize_agent

    @tool
    def lookup(city: str, context: ToolContext) -> dict:
        \"\"\"Look a city up.\"\"\"
        return {"city": city}

    agent = Agent(name="probe", model="openai/gpt-4o", tools=[lookup], instructions="Be brief.")
    spec = serialize_agent(agent).wire()  # what run() sends
    encode_tool_result(lookup(**coerce_arguments(lookup, {"city": "NYC"}), context=ToolContext()))
    print(json.dumps({"imported": imported, "modules": sorted(sys.modules), "tools": len(spec["tools"])}))
""".replace("HTTPX_CLI_NAMES", repr(HTTPX_CLI))

CLI_HELP_PROCESS = """
    import contextlib, io, json, sys
    from agentspan.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["--help"])
    print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@functools.cache
def _fresh(code: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _server_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == s or m.startswith(s + ".") for s in SERVER_ONLY)]


def test_an_sdk_process_loads_no_server_code() -> None:
    seen = _fresh(SDK_PROCESS)
    assert seen["tools"] == 1
    assert _server_modules(seen["modules"]) == []


def test_importing_the_sdk_stays_small() -> None:
    seen = _fresh(SDK_PROCESS)
    assert seen["imported"] <= MAX_MODULES_FOR_THE_SDK, (
        f"`import agentspan.agents` now loads {seen['imported']} modules (bound "
        f"{MAX_MODULES_FOR_THE_SDK}): a new dependency or an eager import of something heavy?"
    )


def test_cli_help_loads_no_server_code() -> None:
    seen = _fresh(CLI_HELP_PROCESS)
    assert seen["code"] == 0
    assert _server_modules(seen["modules"]) == []
