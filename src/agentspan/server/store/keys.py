"""API keys: who may call the server, stored as hashes only.

A key is shown to its creator once (``asp_<id>_<secret>``); the store keeps its ``id``,
a name, its scopes and the SHA-256 of the secret. The secret is 256 random bits, so a
fast hash is enough: nothing can be guessed from it, and checking a request costs one
hash. Revoking keeps the row (``revoked_at``) so the audit trail can still name a key
that approved something; a revoked key's name may be given to a new key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Row, Runner, sql


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    created_at: float
    created_by: str
    revoked_at: float | None

    @classmethod
    def of(cls, row: Row) -> ApiKeyRow:
        key_id, name, secret_hash, scopes, created_at, created_by, revoked_at = row
        return cls(key_id, name, secret_hash, tuple(scopes.split(",")), created_at, created_by, revoked_at)


class KeysTx(Protocol):
    async def insert_api_key(self, key: ApiKeyRow) -> bool:
        """Store a new key; False when an active key already has its name."""
        ...

    async def revoke_api_key(self, key_id: str, at: float) -> bool:
        """Revoke an active key; False when there is none with this id."""
        ...


class KeysReads(Protocol):
    async def get_api_key(self, key_id: str) -> ApiKeyRow | None: ...

    async def list_api_keys(self, include_revoked: bool = False) -> list[ApiKeyRow]: ...


_COLUMNS = "id, name, secret_hash, scopes, created_at, created_by, revoked_at"
NAME_TAKEN = sql("SELECT 1 FROM api_keys WHERE name = :name AND revoked_at IS NULL")
INSERT = sql(
    f"INSERT INTO api_keys ({_COLUMNS}) "
    "VALUES (:id, :name, :secret_hash, :scopes, :created_at, :created_by, NULL)"
)
REVOKE = sql("UPDATE api_keys SET revoked_at = :at WHERE id = :id AND revoked_at IS NULL")
GET = sql(f"SELECT {_COLUMNS} FROM api_keys WHERE id = :id")
LIST_ACTIVE = sql(f"SELECT {_COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id")
LIST_ALL = sql(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id")


class KeysTxSql(Runner):
    __slots__ = ()

    async def insert_api_key(self, key: ApiKeyRow) -> bool:
        # The partial unique index on active names is the real guard (two replicas racing);
        # this read turns the common case into an answer instead of a constraint error.
        if await self._row(NAME_TAKEN, key.name) is not None:
            return False
        scopes = ",".join(key.scopes)
        await self._run(INSERT, key.id, key.name, key.secret_hash, scopes, key.created_at, key.created_by)
        return True

    async def revoke_api_key(self, key_id: str, at: float) -> bool:
        return await self._run(REVOKE, at, key_id) > 0


class KeysReadsSql(Runner):
    __slots__ = ()

    async def get_api_key(self, key_id: str) -> ApiKeyRow | None:
        row = await self._row(GET, key_id)
        return ApiKeyRow.of(row) if row is not None else None

    async def list_api_keys(self, include_revoked: bool = False) -> list[ApiKeyRow]:
        return [ApiKeyRow.of(row) for row in await self._rows(LIST_ALL if include_revoked else LIST_ACTIVE)]
