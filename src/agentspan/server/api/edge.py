"""What both HTTP stacks share besides errors: who is calling, and whom to call.

``principal_of`` is the one place a route reads its caller: the ``Principal`` that
``api/auth.py::Authenticate`` put into the ASGI scope (``ANONYMOUS`` for an app served
without it, as some tests do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentspan.server.service.credentials import CredentialService
from agentspan.server.service.deployments import DeploymentService
from agentspan.server.service.executions import ExecutionService
from agentspan.server.service.keys import KeyService
from agentspan.server.service.ops import OpsService
from agentspan.server.service.principal import ANONYMOUS, PRINCIPAL_SCOPE_KEY, Principal
from agentspan.server.service.semantic_memory import MemoryService
from agentspan.server.tasks import TaskService


@dataclass(frozen=True, slots=True)
class ServiceLayer:
    """The services the HTTP edge calls (kept on the app's ``state.layer``)."""

    executions: ExecutionService
    tasks: TaskService
    keys: KeyService
    credentials: CredentialService
    ops: OpsService
    memory: MemoryService
    deployments: DeploymentService = field(init=False)
    """Built from ``executions`` (a deploy prepares a definition as a start does)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "deployments", DeploymentService(self.executions))


def principal_of(scope: Mapping[str, Any]) -> Principal:
    principal: Principal = scope.get(PRINCIPAL_SCOPE_KEY, ANONYMOUS)
    return principal


def layer_of(state: Any) -> ServiceLayer:
    layer: ServiceLayer = state.layer
    return layer
