"""API keys: creating, listing and revoking them, and knowing a request's key.

``KeyService`` keeps every active key in memory (``id -> hash, Principal``), so checking
a request costs a dict lookup and one SHA-256, never a database read. The copy stays
current on every replica:

- this process reloads it right after it creates or revokes a key;
- the transaction that creates or revokes one wakes ``KEYS_CHANGED`` in the other
  replicas (PostgreSQL NOTIFY through the hub), and they reload at once; a listener that
  reconnects wakes everyone, so a missed notification also ends in a reload;
- a well-formed key this process does not know yet (created a moment ago elsewhere) is
  looked up in the database once before it is refused.

``AGENTSPAN_AUTH_TOKEN`` is a bootstrap admin key that lives only in the server's
environment: it works before any key exists and cannot be revoked (unset it instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Iterable

from agentspan.protocol.api import ApiKeyInfo, CreatedApiKey
from agentspan.protocol.errors import ErrorCode
from agentspan.server.errors import Conflict, NotFound, ValidationFailed
from agentspan.server.hub import Hub
from agentspan.server.service.principal import DEFAULT_SCOPES, SCOPES, Principal, Scope
from agentspan.server.store.base import ApiKeyRow, Store

log = logging.getLogger("agentspan.server")

KEY_PREFIX = "asp_"
KEYS_CHANGED = "apikeys"
"""The hub key woken (in every replica) when a key is created or revoked."""
BOOTSTRAP = "bootstrap"
"""The name the bootstrap token (``AGENTSPAN_AUTH_TOKEN``) acts under."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_KEY_ID = re.compile(r"[0-9a-f]{12}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a key shaped ``asp_<id>_<secret>``; None for anything else."""
    if not token.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")
    if not sep or not secret or _KEY_ID.fullmatch(key_id) is None:
        return None
    return key_id, secret


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        scopes=list(row.scopes),
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )


def _principal(row: ApiKeyRow) -> Principal:
    return Principal(id=row.id, name=row.name, scopes=frozenset(row.scopes))


def parse_scopes(scopes: Iterable[str] | None) -> tuple[Scope, ...]:
    """The scopes a new key asks for, checked (none given: ``DEFAULT_SCOPES``)."""
    wanted = list(dict.fromkeys(s.strip() for s in scopes or ())) or list(DEFAULT_SCOPES)
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise ValidationFailed(f"unknown scope {unknown[0]!r}; scopes are: {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in wanted)


class KeyService:
    """API keys in the store, and an in-memory copy of the active ones for every request."""

    def __init__(self, store: Store, hub: Hub, bootstrap_token: str | None = None) -> None:
        self._store = store
        self._hub = hub
        self._bootstrap = bootstrap_token or None
        self._active: dict[str, tuple[str, Principal]] = {}
        self._ever_created = False
        self._watch: asyncio.Task[None] | None = None

    @property
    def required(self) -> bool:
        """True once a key was ever created, or while a bootstrap token is set: then every
        request needs a key. Revoking the last key does not open the server again (a
        revoked key is often a leaked one); the bootstrap token is the way back in."""
        return self._ever_created or self._bootstrap is not None

    async def start(self) -> None:
        await self.reload()
        self._watch = asyncio.create_task(self._follow_changes(), name="agentspan-keys")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None

    async def reload(self) -> None:
        rows = await self._store.list_api_keys(include_revoked=True)
        self._active = {r.id: (r.secret_hash, _principal(r)) for r in rows if r.revoked_at is None}
        self._ever_created = bool(rows)

    async def _follow_changes(self) -> None:
        while True:
            # Listen before reading, so a change that lands during the read still wakes us.
            woken = self._hub.listen([KEYS_CHANGED])
            try:
                await self.reload()
            except Exception:
                log.exception("could not reload API keys; keeping the previous ones")
            await woken

    # --- checking a request -------------------------------------------------------------

    async def authenticate(self, token: str) -> Principal | None:
        """The principal ``token`` stands for; None for an unknown or revoked key."""
        if self._bootstrap is not None and hmac.compare_digest(token.encode(), self._bootstrap.encode()):
            return Principal(id=BOOTSTRAP, name=BOOTSTRAP, scopes=frozenset({"admin"}))
        parts = _split(token)
        if parts is None:
            return None
        key_id, secret = parts
        known = self._active.get(key_id)
        if known is None:
            row = await self._store.get_api_key(key_id)
            if row is None or row.revoked_at is not None:
                return None
            known = (row.secret_hash, _principal(row))
        secret_hash, principal = known
        return principal if hmac.compare_digest(_hash(secret), secret_hash) else None

    # --- managing keys ------------------------------------------------------------------

    async def create(self, by: Principal, name: str, scopes: Iterable[str] | None = None) -> CreatedApiKey:
        if _NAME.fullmatch(name) is None:
            raise ValidationFailed(
                "a key name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=key_id,
            name=name,
            secret_hash=_hash(secret),
            scopes=parse_scopes(scopes),
            created_at=time.time(),
            created_by=by.name,
            revoked_at=None,
        )
        async with self._store.transaction() as tx:
            if not await tx.insert_api_key(row):
                raise Conflict(f"an active key is already named {name!r}", ErrorCode.KEY_NAME_TAKEN)
            await tx.notify([KEYS_CHANGED])
        await self.reload()
        return CreatedApiKey(**_info(row).model_dump(), key=f"{KEY_PREFIX}{key_id}_{secret}")

    async def list(self, include_revoked: bool = False) -> list[ApiKeyInfo]:
        return [_info(row) for row in await self._store.list_api_keys(include_revoked)]

    async def revoke(self, id_or_name: str) -> ApiKeyInfo:
        """Revoke the active key with this id or name; it stops working on every replica."""
        active = await self._store.list_api_keys()
        row = next((r for r in active if id_or_name in (r.id, r.name)), None)
        if row is None:
            raise NotFound(f"no active API key is named {id_or_name!r}", ErrorCode.KEY_NOT_FOUND)
        at = time.time()
        async with self._store.transaction() as tx:
            if not await tx.revoke_api_key(row.id, at):
                raise NotFound(f"no active API key is named {id_or_name!r}", ErrorCode.KEY_NOT_FOUND)
            await tx.notify([KEYS_CHANGED])
        await self.reload()
        return _info(row).model_copy(update={"revoked_at": at})
