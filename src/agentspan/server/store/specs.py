"""Agent specs, stored once per content hash and shared by every execution of them."""

from __future__ import annotations

from typing import Protocol

from agentspan.server.store.sql import Runner, sql


class SpecsReads(Protocol):
    async def get_spec(self, spec_hash: str) -> str | None: ...


class SpecsTx(SpecsReads, Protocol):
    async def put_spec(self, spec_hash: str, spec_json: str) -> None: ...


GET = sql("SELECT spec FROM specs WHERE hash = :hash")
# Specs are immutable by hash: a second put of the same one is a no-op, not an error.
PUT = sql("INSERT INTO specs (hash, spec) VALUES (:hash, :spec) ON CONFLICT (hash) DO NOTHING")


class SpecsReadsSql(Runner):
    __slots__ = ()

    async def get_spec(self, spec_hash: str) -> str | None:
        row = await self._row(GET, spec_hash)
        return str(row[0]) if row is not None else None


class SpecsTxSql(SpecsReadsSql):
    __slots__ = ()

    async def put_spec(self, spec_hash: str, spec_json: str) -> None:
        await self._run(PUT, spec_hash, spec_json)
