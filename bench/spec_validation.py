"""Micro-benchmark: the cost of reading an agent spec on the way into ``start``.

Every ``run()`` posts a ``StartRequest`` whose ``agentConfig`` the server validates once,
then hashes and stores in canonical form; the driver reads stored specs back with
``AgentConfig.model_validate_json``. This times those calls (µs per call, the best of a
few ``timeit`` repeats) for a few representative agents.

The documents are built here as plain JSON and only the ``agentspan`` package is imported,
so the same script measures another commit's code when its ``src/`` comes first on the
path; measuring both in one session is the only fair comparison on a shared machine:

    git worktree add --detach /tmp/spec-base 6fb8b9b
    PYTHONPATH=/tmp/spec-base/src .venv/bin/python bench/spec_validation.py   # before
    PYTHONPATH=src .venv/bin/python bench/spec_validation.py                  # after

``--compare DIR`` does both, alternating base and head runs in subprocesses, and prints
the ratio head/base for each case.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

MODEL = "openai/gpt-4o"


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A worker tool as the SDK compiles a decorated function."""
    return {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": properties, "required": list(properties)},
        "toolType": "worker",
        "approvalRequired": False,
        "config": {},
        "retryable": True,
    }


def _agent(name: str, version: int, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "model": MODEL,
        "schemaVersion": version,
        "maxTurns": 25,
        "timeoutSeconds": 0.0,
        "external": False,
        "agents": [],
        "tools": [],
        **fields,
    }


def minimal(version: int) -> dict[str, Any]:
    return _agent("minimal", version, instructions="Answer briefly.")


def typical(version: int) -> dict[str, Any]:
    """Three worker tools, one regex guardrail and an or-termination."""
    return _agent(
        "assistant",
        version,
        instructions="Help the user with the weather and their calendar.",
        tools=[
            _tool("get_weather", "The weather in a city.", {"city": {"type": "string"}}),
            _tool("list_events", "Events on a day.", {"day": {"type": "string", "format": "date"}}),
            _tool(
                "add_event",
                "Add an event.",
                {"day": {"type": "string"}, "title": {"type": "string"}, "minutes": {"type": "integer"}},
            ),
        ],
        guardrails=[
            {
                "name": "no_cards",
                "guardrailType": "regex",
                "patterns": [r"\d{16}"],
                "mode": "block",
                "position": "output",
                "onFail": "retry",
                "maxRetries": 3,
            }
        ],
        termination={
            "type": "or",
            "conditions": [
                {"type": "text_mention", "text": "DONE", "caseSensitive": False},
                {"type": "max_message", "maxMessages": 40},
            ],
        },
    )


def team(version: int) -> dict[str, Any]:
    """A router team of three sub-agents (one tool each) whose members may hand off."""
    members = [
        _agent(
            member,
            version,
            instructions=f"You are the {member}.",
            tools=[_tool(f"{member}_lookup", "Look something up.", {"query": {"type": "string"}})],
        )
        for member in ("researcher", "writer", "reviewer")
    ]
    return _agent(
        "team",
        version,
        strategy="router",
        agents=members,
        router=_agent("chooser", version, instructions="Pick the member who should answer next."),
        handoffs=[
            {"type": "on_text_mention", "target": "writer", "text": "draft"},
            {"type": "on_tool_result", "target": "reviewer", "toolName": "writer_lookup"},
            {"type": "on_condition", "target": "researcher", "taskName": "needs_research"},
        ],
    )


def _start_request(config: dict[str, Any]) -> str:
    return json.dumps({"agentConfig": config, "prompt": "What is the weather in Paris?", "sessionId": ""})


def cases() -> dict[str, Callable[[], float]]:
    """name -> a function returning µs per call of that measurement."""
    from agentspan.protocol.api import StartRequest
    from agentspan.protocol.spec import SPEC_SCHEMA_VERSION, AgentConfig

    current = SPEC_SCHEMA_VERSION
    requests = {
        "minimal": _start_request(minimal(current)),
        "typical": _start_request(typical(current)),
        "team": _start_request(team(current)),
    }
    measured: dict[str, Callable[[], float]] = {}
    for name, raw in requests.items():
        measured[f"StartRequest.model_validate_json {name}"] = _timer(
            lambda raw=raw: StartRequest.model_validate_json(raw)
        )
    stored_v1 = json.dumps(typical(1), sort_keys=True, separators=(",", ":"))
    measured["AgentConfig.model_validate_json typical v1"] = _timer(
        lambda: AgentConfig.model_validate_json(stored_v1)
    )
    for name in ("typical", "team"):
        spec = StartRequest.model_validate_json(requests[name]).agent_config
        measured[f"canonical_json {name}"] = _timer(spec.canonical_json)
        measured[f"content_hash {name}"] = _timer(spec.content_hash)
    return measured


def _timer(call: Callable[[], object]) -> Callable[[], float]:
    def measure() -> float:
        call()  # Fail fast (and warm up) before timing.
        timer = timeit.Timer(call)
        number, _ = timer.autorange()
        number = max(number, 1000)
        return min(timer.repeat(repeat=7, number=number)) / number * 1e6

    return measure


def run() -> dict[str, float]:
    return {name: measure() for name, measure in cases().items()}


def _run_with(src: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run(
        [sys.executable, __file__, "--json"], env=env, check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def compare(base_src: Path, head_src: Path, rounds: int) -> None:
    """Alternate base and head runs; report the best of all rounds for each."""
    base: dict[str, float] = {}
    head: dict[str, float] = {}
    for round_ in range(rounds):
        order = [(base, base_src), (head, head_src)]
        for best, src in order if round_ % 2 == 0 else reversed(order):
            for name, value in _run_with(src).items():
                best[name] = min(value, best.get(name, value))
    print(f"{'case':<48}{'base µs':>10}{'head µs':>10}{'head/base':>11}")
    for name, value in head.items():
        before = base.get(name)
        ratio = f"{value / before:>10.2f}x" if before else f"{'-':>11}"
        shown = f"{before:>10.2f}" if before else f"{'-':>10}"
        print(f"{name:<48}{shown}{value:>10.2f}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--compare", type=Path, help="a checkout of the base commit (its src/ is used)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --compare")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare / "src", ROOT / "src", args.rounds)
        return
    results = run()
    if args.json:
        print(json.dumps(results))
        return
    import agentspan

    print(f"agentspan from {Path(agentspan.__file__).parent}")
    for name, value in results.items():
        print(f"{name:<48}{value:>10.2f} µs")


if __name__ == "__main__":
    main()
