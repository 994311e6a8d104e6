"""Every example in the gallery (``examples/NN-topic/NN_name.py``) runs offline against a
real server and prints what it says it prints.

An example declares its checks in comments, which double as documentation for readers:

    # expect: <text>            a line fragment that must appear in what it prints
    # requires: <module>        a Python package it needs (skipped, with the reason, if absent)
    # requires-command: <name>  a program it needs on PATH (likewise)
    # requires-env: <NAME>      an environment variable it needs (likewise; passed through)
    # requires-run: <command>   a command that must succeed first, e.g. `docker info` (likewise)
    # timeout: <seconds>        when it needs longer than the default 90 s

The examples share one server (SQLite, model requests to real providers refused, so nothing
leaves the machine) and run three at a time; each test waits for its own example.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from support.servers import ServerProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GALLERY = sorted(EXAMPLES.glob("[0-9][0-9]-*/[0-9][0-9]_*.py"))
DEFAULT_TIMEOUT = 90.0
PARALLEL = 3
# Anything that would make an example use a real model or another server.
_STRIPPED_PREFIXES = ("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_", "AGENTSPAN_", "AWS_", "MISTRAL_")


def _directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for match in re.finditer(
        r"^# (expect|requires|requires-command|requires-env|requires-run|timeout): (.+)$",
        path.read_text(),
        re.M,
    ):
        found.setdefault(match.group(1), []).append(match.group(2).strip())
    return found


def _missing(path: Path) -> str | None:
    marks = _directives(path)
    for module in marks.get("requires", []):
        if importlib.util.find_spec(module) is None:
            return f"{path.name} needs the Python package {module!r}, which is not installed"
    for command in marks.get("requires-command", []):
        if shutil.which(command) is None:
            return f"{path.name} needs the program {command!r} on PATH, which is missing"
    for name in marks.get("requires-env", []):
        if not os.environ.get(name):
            return f"{path.name} needs the environment variable {name}, which is not set"
    for command in marks.get("requires-run", []):
        if not _succeeds(command):
            return f"{path.name} needs `{command}` to succeed, and it does not here"
    return None


@functools.cache
def _succeeds(command: str) -> bool:
    try:
        return subprocess.run(shlex.split(command), capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _run(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    timeout = float((_directives(path).get("timeout") or [str(DEFAULT_TIMEOUT)])[0])
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[Path, Future[subprocess.CompletedProcess[str]]]]:
    wanted = {name for path in GALLERY for name in _directives(path).get("requires-env", [])}
    base = {k: v for k, v in os.environ.items() if k in wanted or not k.startswith(_STRIPPED_PREFIXES)}
    server = ServerProcess(
        tmp_path_factory.mktemp("gallery"), env={**base, "AGENTSPAN_ALLOW_MODEL_REQUESTS": "false"}
    ).start()
    env = {
        **base,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "AGENTSPAN_AUTO_START_SERVER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {path: pool.submit(_run, path, env) for path in GALLERY if _missing(path) is None}
        try:
            yield futures
        finally:
            for future in futures.values():
                future.cancel()
            server.stop()


def test_the_gallery_is_there() -> None:
    assert len(GALLERY) >= 1, f"no examples found under {EXAMPLES}"


def test_every_example_is_listed_in_the_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    unlisted = [str(p.relative_to(EXAMPLES)) for p in GALLERY if str(p.relative_to(EXAMPLES)) not in readme]
    assert not unlisted, f"examples/README.md does not list: {unlisted}"


def test_every_example_says_what_it_prints() -> None:
    silent = [p.name for p in GALLERY if not _directives(p).get("expect")]
    assert not silent, f"examples without an '# expect:' line: {silent}"


@pytest.mark.parametrize("path", GALLERY, ids=[str(p.relative_to(EXAMPLES)) for p in GALLERY])
def test_example_runs_offline(path: Path, runs: dict[Path, Future[subprocess.CompletedProcess[str]]]) -> None:
    reason = _missing(path)
    if reason is not None:
        pytest.skip(reason)
    done = runs[path].result()
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}\n{output[-4000:]}"
    absent = [line for line in _directives(path)["expect"] if line not in done.stdout]
    assert not absent, f"not printed: {absent}\n--- stdout ---\n{done.stdout[-4000:]}"
