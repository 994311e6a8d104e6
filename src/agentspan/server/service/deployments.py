"""``DeploymentService``: store named, versioned agent definitions and start them by name.

A deploy runs the same preparation a start does (``ExecutionService.prepare``: limits,
model strings, endpoints, templates rendered, discovering tools expanded), stores the
result as a spec by hash and points the next version of the name at it. Starting by
name starts exactly that stored spec, so the process that starts it needs no definition,
and the execution keeps it whatever is deployed later.
"""

from __future__ import annotations

import time

from agentspan.protocol.api import (
    CompileResponse,
    DeployedStartRequest,
    DeploymentDetail,
    DeploymentInfoWire,
    DeploymentSummary,
    DeploymentVersion,
    StartRequest,
    StartResponse,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.protocol.spec import AgentConfig
from agentspan.server.driver import validate_tree
from agentspan.server.errors import NotFound
from agentspan.server.service.executions import ExecutionService
from agentspan.server.service.principal import Principal
from agentspan.server.store.base import DeploymentRow


def _not_found(name: str, version: int | None) -> NotFound:
    which = f"version {version} of {name!r}" if version is not None else repr(name)
    return NotFound(
        f"no deployed agent {which} (deploy it with runtime.deploy(agent) or `agentspan agents deploy`)",
        ErrorCode.DEPLOYMENT_NOT_FOUND,
    )


class DeploymentService:
    def __init__(self, executions: ExecutionService) -> None:
        self.executions = executions
        self.driver = executions.driver
        self.store = executions.store

    async def compile(self, principal: Principal, spec: AgentConfig) -> CompileResponse:
        """What starting ``spec`` would store and need, without starting anything."""
        compiled = await self._compiled(spec)
        spec_hash, _ = compiled.stored_form()
        return CompileResponse(
            agent_config=compiled.wire(),
            required_workers=compiled.worker_task_names(),
            spec_hash=spec_hash,
        )

    async def _compiled(self, spec: AgentConfig) -> AgentConfig:
        prepared = await self.executions.prepare(StartRequest(agent_config=spec))
        validate_tree(prepared.agent_config, self.driver.executors)
        return prepared.agent_config

    async def deploy(self, principal: Principal, spec: AgentConfig) -> DeploymentInfoWire:
        compiled = await self._compiled(spec)
        spec_hash, document = compiled.stored_form()
        async with self.driver.unit_of_work() as (tx, _):
            await tx.put_spec(spec_hash, document)
            row, created = await tx.add_deployment(compiled.name, spec_hash, time.time(), principal.name)
        return _info(row, created, compiled.worker_task_names())

    async def start(
        self, principal: Principal, name: str, req: DeployedStartRequest, wait_ms: int = 0
    ) -> StartResponse:
        row = await self.store.get_deployment(name, req.version)
        if row is None:
            raise _not_found(name, req.version)
        spec = await self.driver.spec_by_hash(row.spec_hash)
        fields = req.model_dump(exclude={"version"})
        # The stored spec was prepared at deploy time; preparing it again (inside start)
        # re-checks the limits and finds nothing left to render or expand.
        return await self.executions.start(principal, StartRequest(agent_config=spec, **fields), wait_ms)

    async def list(self, principal: Principal) -> list[DeploymentSummary]:
        return [
            DeploymentSummary(
                name=r.name, latest_version=r.version, spec_hash=r.spec_hash, updated_at=r.created_at
            )
            for r in await self.store.list_deployments()
        ]

    async def detail(self, principal: Principal, name: str) -> DeploymentDetail:
        rows = await self.store.deployment_versions(name)
        if not rows:
            raise _not_found(name, None)
        running = await self.store.active_by_spec(name, [r.spec_hash for r in rows])
        latest = await self.driver.spec_by_hash(rows[0].spec_hash)
        return DeploymentDetail(
            name=name,
            versions=[
                DeploymentVersion(
                    version=r.version,
                    spec_hash=r.spec_hash,
                    created_at=r.created_at,
                    created_by=r.created_by,
                    running=running.get(r.spec_hash, 0),
                )
                for r in rows
            ],
            required_workers=latest.worker_task_names(),
        )


def _info(row: DeploymentRow, created: bool, workers: list[str]) -> DeploymentInfoWire:
    return DeploymentInfoWire(
        registered_name=row.name,
        agent_name=row.name,
        version=row.version,
        spec_hash=row.spec_hash,
        created_at=row.created_at,
        created=created,
        required_workers=workers,
    )
