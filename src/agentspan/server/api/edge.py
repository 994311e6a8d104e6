"""What both HTTP stacks share besides errors: who is calling, and whom to call.

``principal_of`` is the one place a request becomes a ``Principal``. Today nobody
authenticates, so it is ``ANONYMOUS`` unless an outer middleware (see ``app.py``) put
one into the ASGI scope; an authentication middleware will do exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentspan.server.service.executions import ExecutionService
from agentspan.server.service.principal import ANONYMOUS, PRINCIPAL_SCOPE_KEY, Principal
from agentspan.server.tasks import TaskService


@dataclass(frozen=True, slots=True)
class ServiceLayer:
    """The services the HTTP edge calls (kept on the app's ``state.layer``)."""

    executions: ExecutionService
    tasks: TaskService


def principal_of(scope: Mapping[str, Any]) -> Principal:
    principal: Principal = scope.get(PRINCIPAL_SCOPE_KEY, ANONYMOUS)
    return principal


def layer_of(state: Any) -> ServiceLayer:
    layer: ServiceLayer = state.layer
    return layer
