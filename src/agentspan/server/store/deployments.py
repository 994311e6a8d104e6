"""Deployments: named, versioned agent definitions, each pointing at a stored spec.

A deploy adds version N+1 of a name unless the latest version already holds the same
spec (then it is that version again: deploying twice is idempotent). A version never
changes once written, and executions keep the spec hash they started with, so a deploy
never changes a running execution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Row, Runner, sql


@dataclass(frozen=True, slots=True)
class DeploymentRow:
    name: str
    version: int
    spec_hash: str
    created_at: float
    created_by: str

    @classmethod
    def of(cls, row: Row) -> DeploymentRow:
        name, version, spec_hash, created_at, created_by = row
        return cls(str(name), int(version), str(spec_hash), float(created_at), str(created_by))


class DeploymentsTx(Protocol):
    async def add_deployment(
        self, name: str, spec_hash: str, now: float, by: str
    ) -> tuple[DeploymentRow, bool]:
        """The deployment of ``spec_hash`` under ``name``: the latest version when it
        already holds that spec (False), else a new version one above it (True)."""
        ...


class DeploymentsReads(Protocol):
    async def get_deployment(self, name: str, version: int | None = None) -> DeploymentRow | None:
        """Version ``version`` of ``name``; the latest when ``version`` is None."""
        ...

    async def deployment_versions(self, name: str) -> list[DeploymentRow]:
        """Every version of ``name``, newest first."""
        ...

    async def list_deployments(self) -> list[DeploymentRow]:
        """The latest version of every name, by name."""
        ...

    async def active_by_spec(self, agent_name: str, spec_hashes: Sequence[str]) -> dict[str, int]:
        """How many unfinished executions of ``agent_name`` run each of these specs."""
        ...


_COLUMNS = "name, version, spec_hash, created_at, created_by"
LATEST = sql(f"SELECT {_COLUMNS} FROM deployments WHERE name = :name ORDER BY version DESC LIMIT 1")
ONE = sql(f"SELECT {_COLUMNS} FROM deployments WHERE name = :name AND version = :version")
VERSIONS = sql(f"SELECT {_COLUMNS} FROM deployments WHERE name = :name ORDER BY version DESC")
INSERT = sql(
    f"INSERT INTO deployments ({_COLUMNS}) VALUES (:name, :version, :spec_hash, :created_at, :created_by)"
)
LIST = sql(
    f"SELECT {_COLUMNS} FROM deployments d WHERE version = "
    "(SELECT max(version) FROM deployments l WHERE l.name = d.name) ORDER BY name"
)
ACTIVE = sql(
    "SELECT spec_hash, count(*) FROM executions WHERE agent_name = :name "
    "AND status IN ('RUNNING', 'PAUSED') GROUP BY spec_hash"
)


class DeploymentsReadsSql(Runner):
    __slots__ = ()

    async def get_deployment(self, name: str, version: int | None = None) -> DeploymentRow | None:
        row = await (self._row(LATEST, name) if version is None else self._row(ONE, name, version))
        return DeploymentRow.of(row) if row is not None else None

    async def deployment_versions(self, name: str) -> list[DeploymentRow]:
        return [DeploymentRow.of(r) for r in await self._rows(VERSIONS, name)]

    async def list_deployments(self) -> list[DeploymentRow]:
        return [DeploymentRow.of(r) for r in await self._rows(LIST)]

    async def active_by_spec(self, agent_name: str, spec_hashes: Sequence[str]) -> dict[str, int]:
        wanted = set(spec_hashes)
        counts = {str(h): int(n) for h, n in await self._rows(ACTIVE, agent_name)}
        return {h: counts.get(h, 0) for h in wanted}


class DeploymentsTxSql(DeploymentsReadsSql):
    __slots__ = ()

    async def add_deployment(
        self, name: str, spec_hash: str, now: float, by: str
    ) -> tuple[DeploymentRow, bool]:
        latest = await self.get_deployment(name)
        if latest is not None and latest.spec_hash == spec_hash:
            return latest, False
        # Two deploys of one name racing both read the same latest version; the primary
        # key (name, version) lets one insert win and the other's transaction fail.
        row = DeploymentRow(name, (latest.version if latest else 0) + 1, spec_hash, now, by)
        await self._run(INSERT, row.name, row.version, row.spec_hash, row.created_at, row.created_by)
        return row, True
