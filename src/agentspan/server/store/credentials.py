"""Credentials: named secrets, stored only as AES-256-GCM ciphertext.

The store never sees a value: ``service/credentials.py`` encrypts before writing and
decrypts after reading, with the credential's name bound in as associated data (so a
ciphertext copied onto another name does not open). ``key_id`` names the master key a
row was sealed with (a fingerprint, not the key), so a server holding another key says
so instead of failing on a tag, and rotation can tell finished rows from pending ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentspan.server.store.sql import Row, Runner, sql, sql_per_dialect


@dataclass(frozen=True, slots=True)
class CredentialRow:
    name: str
    ciphertext: bytes
    key_id: str
    created_at: float
    updated_at: float
    created_by: str
    updated_by: str

    @classmethod
    def of(cls, row: Row) -> CredentialRow:
        name, ciphertext, key_id, created_at, updated_at, created_by, updated_by = row
        return cls(name, bytes(ciphertext), key_id, created_at, updated_at, created_by, updated_by)


class CredentialsTx(Protocol):
    async def put_credential(self, row: CredentialRow) -> bool:
        """Insert or replace the value of ``row.name`` (its ``created_*`` kept on a
        replace); True when it was new."""
        ...

    async def delete_credential(self, name: str) -> bool:
        """False when there was none with this name."""
        ...

    async def credentials_for_update(self) -> list[CredentialRow]:
        """Every row, locked against other writers until the transaction ends (rotation)."""
        ...

    async def reseal_credential(self, name: str, ciphertext: bytes, key_id: str) -> None:
        """Replace a row's ciphertext and key id, nothing else (rotation)."""
        ...


class CredentialsReads(Protocol):
    async def get_credential(self, name: str) -> CredentialRow | None: ...

    async def list_credentials(self) -> list[CredentialRow]:
        """Every row, by name."""
        ...


_COLUMNS = "name, ciphertext, key_id, created_at, updated_at, created_by, updated_by"
EXISTS = sql("SELECT 1 FROM credentials WHERE name = :name")
UPSERT = sql(
    f"INSERT INTO credentials ({_COLUMNS}) "
    "VALUES (:name, :ciphertext, :key_id, :created_at, :updated_at, :created_by, :updated_by) "
    "ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, "
    "updated_at = excluded.updated_at, updated_by = excluded.updated_by"
)
DELETE = sql("DELETE FROM credentials WHERE name = :name")
GET = sql(f"SELECT {_COLUMNS} FROM credentials WHERE name = :name")
LIST = sql(f"SELECT {_COLUMNS} FROM credentials ORDER BY name")
# SQLite's BEGIN IMMEDIATE already keeps other writers out; PostgreSQL locks the rows.
LIST_FOR_UPDATE = sql_per_dialect(
    sqlite=f"SELECT {_COLUMNS} FROM credentials ORDER BY name",
    postgres=f"SELECT {_COLUMNS} FROM credentials ORDER BY name FOR UPDATE",
)
RESEAL = sql("UPDATE credentials SET ciphertext = :ciphertext, key_id = :key_id WHERE name = :name")


class CredentialsTxSql(Runner):
    __slots__ = ()

    async def put_credential(self, row: CredentialRow) -> bool:
        # The upsert is the real guard (two replicas setting the same name at once);
        # this read only tells the caller whether the name was new.
        new = await self._row(EXISTS, row.name) is None
        await self._run(
            UPSERT,
            row.name,
            row.ciphertext,
            row.key_id,
            row.created_at,
            row.updated_at,
            row.created_by,
            row.updated_by,
        )
        return new

    async def delete_credential(self, name: str) -> bool:
        return await self._run(DELETE, name) > 0

    async def credentials_for_update(self) -> list[CredentialRow]:
        return [CredentialRow.of(r) for r in await self._rows(LIST_FOR_UPDATE)]

    async def reseal_credential(self, name: str, ciphertext: bytes, key_id: str) -> None:
        await self._run(RESEAL, ciphertext, key_id, name)


class CredentialsReadsSql(Runner):
    __slots__ = ()

    async def get_credential(self, name: str) -> CredentialRow | None:
        row = await self._row(GET, name)
        return CredentialRow.of(row) if row is not None else None

    async def list_credentials(self) -> list[CredentialRow]:
        return [CredentialRow.of(r) for r in await self._rows(LIST)]
