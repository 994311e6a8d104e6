"""Deploy and run by name: what the runtime sends and gets back, and agent discovery.

``discover_agents`` finds the module-level agents of packages (what ``deploy``/``serve``
take as ``packages=``, and ``agentspan agents deploy``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from agentspan.agents._agent import Agent
from agentspan.agents._agent_def import as_agent
from agentspan.agents._result import DeploymentInfo
from agentspan.agents._serialize import serialize_agent

__all__ = ["definition_of", "deployment_info", "discover_agents", "discover_path", "start_path"]

log = logging.getLogger("agentspan")


def start_path(agent: Any) -> str:
    """Where a start goes: a deployed agent's name starts its stored definition."""
    return f"/deployments/{quote(agent, safe='')}/start" if isinstance(agent, str) else "/agent/start"


def definition_of(agent: Any) -> dict[str, Any]:
    """The ``agentConfig`` a deploy or plan sends for ``agent``."""
    if not isinstance(agent, Agent):
        raise TypeError(f"deploy/plan take Agent objects (or packages=), got {type(agent).__name__}")
    return serialize_agent(agent).wire()


def deployment_info(wire: dict[str, Any]) -> DeploymentInfo:
    return DeploymentInfo(
        registered_name=str(wire["registeredName"]),
        agent_name=str(wire["agentName"]),
        version=int(wire["version"]),
        created=bool(wire.get("created", True)),
    )


def _agents_in(module: ModuleType) -> list[Agent]:
    found: list[Agent] = []
    for attribute, value in vars(module).items():
        if attribute.startswith("_"):
            continue
        agent = as_agent(value)  # an @agent function counts too
        if isinstance(agent, Agent):
            found.append(agent)
    return found


def _modules(package: str) -> Iterable[ModuleType]:
    try:
        root = importlib.import_module(package)
    except ImportError as exc:
        log.warning("discover_agents: cannot import %r (%s); skipped", package, exc)
        return
    yield root
    import pkgutil  # only when discovering: keeps `import agentspan.agents` small

    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."):
        try:
            yield importlib.import_module(info.name)
        except ImportError as exc:
            log.warning("discover_agents: cannot import %r (%s); skipped", info.name, exc)


def discover_agents(packages: list[str]) -> list[Agent]:
    """The agents defined at module level in ``packages`` and their sub-modules (imported
    to find them), one per name: the first found wins. A package that cannot be imported
    is logged and skipped, as in the reference."""
    by_name: dict[str, Agent] = {}
    for package in packages:
        for module in _modules(package):
            for agent in _agents_in(module):
                by_name.setdefault(agent.name, agent)
    return list(by_name.values())


_SKIPPED_DIRS = frozenset(
    {"venv", ".venv", "env", "build", "dist", "node_modules", "__pycache__", "site-packages"}
)


def _python_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*.py")
        if not p.name.startswith("_")
        and not any(part.startswith(".") or part in _SKIPPED_DIRS for part in p.relative_to(root).parts[:-1])
    )


def discover_path(path: str | Path) -> list[Agent]:
    """The module-level agents of a ``.py`` file, or of every ``.py`` file under a directory
    (skipping ``_*.py``, hidden directories, virtualenvs and build output); each file is
    imported under a name derived from its path. One per name: the first found wins."""
    import importlib.util  # only when discovering: keeps `import agentspan.agents` small

    root = Path(path).resolve()
    by_name: dict[str, Agent] = {}
    for number, file in enumerate(_python_files(root)):
        spec = importlib.util.spec_from_file_location(f"_agentspan_discovered_{number}_{file.stem}", file)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for agent in _agents_in(module):
            by_name.setdefault(agent.name, agent)
    return list(by_name.values())
