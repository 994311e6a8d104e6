"""``CredentialService``: named secrets, sealed in the store, opened only at call time.

- ``set`` / ``list`` / ``info`` / ``delete``: the ``/api/credentials`` routes and the CLI
  (admin scope, ``api/auth.py``). Nothing here returns or logs a value, or any part of
  one: a listing has names and dates only.
- ``resolve`` is the ``SecretResolver`` of server-side tools (``ExecutorContext.secrets``):
  the values of the ``${NAME}`` placeholders a call's headers use, opened when the call is
  made and handed to the executor only. No decrypted value is cached: opening one is a
  primary-key read and a microsecond of AES-GCM, and a value that lives nowhere but the
  database cannot go stale when it is replaced or deleted (on any replica).
- ``lookup`` is the same without the errors, for provider keys a server's environment
  lacks (``providers.ProviderRegistry.resolve(..., stored=...)``).
- ``for_task``: the values a worker tool call declared (``@tool(credentials=[...])``),
  given only to the current lease of its task, which is the short-lived token.
- ``check_declarations`` refuses, at start, what the server cannot honour: a header
  placeholder that neither its tool, its agent nor the run declares, a malformed name, and
  credentials on agent tools. Agents' and runs' names are available to all their tools
  (``run_credentials.py``).

Values are sealed by ``master_key.MasterKey`` (AES-256-GCM, the name as associated data).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Protocol

from agentspan.protocol.api import MAX_CREDENTIAL_CHARS, CredentialInfo
from agentspan.protocol.errors import ErrorCode
from agentspan.protocol.spec import AgentConfig
from agentspan.protocol.spec.credentials import CREDENTIAL_NAME_PATTERN, undeclared
from agentspan.protocol.spec.tools import (
    AgentToolSettings,
    ApiSettings,
    HttpSettings,
    McpSettings,
    WorkerSettings,
)
from agentspan.server.errors import (
    CredentialNotDeclared,
    CredentialStoreUnavailable,
    InvalidAgent,
    LeaseLost,
    NotFound,
    ValidationFailed,
)
from agentspan.server.executors.base import WORKER_KIND, MissingSecret
from agentspan.server.run_credentials import available_to_tools
from agentspan.server.service.master_key import MasterKey, MasterKeyError
from agentspan.server.service.principal import Principal
from agentspan.server.store.base import CredentialRow, ExecutionRow, Store

log = logging.getLogger("agentspan.server")

AGENT_TOOL_CREDENTIALS_REFUSED = (
    "credentials on an agent tool are not supported; declare them on the agent it runs "
    "(Agent(credentials=[...])), whose tools then receive them"
)


def check_name(name: str) -> str:
    if CREDENTIAL_NAME_PATTERN.fullmatch(name) is None:
        raise ValidationFailed(
            "a credential name is 1 to 128 letters, digits or '_', not starting with a digit "
            "(like an environment variable: GITHUB_TOKEN)"
        )
    return name


def _info(row: CredentialRow) -> CredentialInfo:
    return CredentialInfo(
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
        updated_by=row.updated_by,
    )


def _not_found(name: str) -> NotFound:
    return NotFound(f"no credential is named {name!r}", ErrorCode.CREDENTIAL_NOT_FOUND)


class KeySourceLike(Protocol):
    """What the service needs of ``master_key.KeySource``."""

    def current(self) -> MasterKey | None: ...

    def create(self) -> MasterKey: ...

    def settle_pending(self, key_ids_in_use: set[str]) -> None: ...

    def refresh(self) -> MasterKey | None: ...


class CredentialService:
    """Credentials in the store; see the module doc."""

    def __init__(
        self,
        store: Store,
        keys: KeySourceLike,
        spec_of: Callable[[ExecutionRow], Awaitable[AgentConfig]] | None = None,
    ) -> None:
        """``spec_of``: the agent spec an execution runs (the driver's cache), which says
        what a worker's task may have (``for_task``)."""
        self._store = store
        self._keys = keys
        self._spec_of = spec_of
        self._creating = asyncio.Lock()

    async def start(self) -> None:
        """Finish a rotation a crash interrupted, and say now (not at the first tool call)
        when the stored values need a key this server lacks."""
        in_use = {row.key_id for row in await self._store.list_credentials()}
        try:
            self._keys.settle_pending(in_use)
            key = self._keys.current()
        except MasterKeyError as exc:
            log.error("credentials are unavailable: %s", exc)
            return
        foreign = in_use - {key.key_id} if key is not None else in_use
        if foreign:
            log.error("credentials are unavailable: %s", self._foreign_key_message(key, foreign))

    # --- managing credentials -------------------------------------------------------------

    async def set(self, by: Principal, name: str, value: str) -> tuple[CredentialInfo, bool]:
        """Store ``value`` under ``name`` (replacing any); the info and whether it was new."""
        check_name(name)
        if not value or len(value) > MAX_CREDENTIAL_CHARS:
            raise ValidationFailed(f"a credential value is 1 to {MAX_CREDENTIAL_CHARS} characters")
        key = await self._sealing_key()
        now = time.time()
        row = CredentialRow(
            name=name,
            ciphertext=key.seal(name, value),
            key_id=key.key_id,
            created_at=now,
            updated_at=now,
            created_by=by.name,
            updated_by=by.name,
        )
        async with self._store.transaction() as tx:
            created = await tx.put_credential(row)
        stored = await self._store.get_credential(name)
        return _info(stored if stored is not None else row), created

    async def list(self) -> list[CredentialInfo]:
        return [_info(row) for row in await self._store.list_credentials()]

    async def info(self, name: str) -> CredentialInfo:
        row = await self._store.get_credential(check_name(name))
        if row is None:
            raise _not_found(name)
        return _info(row)

    async def delete(self, name: str) -> None:
        async with self._store.transaction() as tx:
            if not await tx.delete_credential(check_name(name)):
                raise _not_found(name)

    # --- values, for the server's own calls ------------------------------------------------

    async def resolve(self, names: Collection[str], execution_id: str) -> dict[str, str]:
        """``SecretResolver``: every name's value, or ``MissingSecret`` naming the first
        one that is not set (or cannot be opened here); the message never has a value."""
        values: dict[str, str] = {}
        for name in names:
            row = await self._store.get_credential(name)
            if row is None:
                raise MissingSecret(
                    f"credential {name!r} is not set on the server (set it with: agentspan credentials set {name})"
                )
            try:
                values[name] = self._open(row)
            except MasterKeyError as exc:
                raise MissingSecret(f"credential {name!r} cannot be read on this server: {exc}") from None
        if values:
            log.debug("resolved credentials %s for execution %s", ", ".join(values), execution_id)
        return values

    async def for_task(self, task_id: str, lease_id: str, names: Collection[str]) -> dict[str, str]:
        """Values for a worker tool call: only to the current lease of a task (the lease is
        the short-lived, execution-scoped token: it ends with the call, when the task is
        withdrawn or the execution stops), and only names the task's tool declares."""
        wanted = [check_name(name) for name in dict.fromkeys(names)]
        async with self._store.transaction() as tx:
            task = await tx.get_task(task_id)
            row = await tx.get_execution(task.execution_id) if task is not None else None
        if (
            task is None
            or row is None
            or task.kind != WORKER_KIND
            or task.status != "leased"
            or task.lease_id != lease_id
            or (task.lease_expires_at or 0.0) <= time.time()
        ):
            raise LeaseLost(
                f"task {task_id!r} is not leased to you (the call ended, or its lease expired or moved): "
                "credentials are given only during a call"
            )
        spec = await self._spec(row)
        declared = declared_by(spec, task.name) | set(available_to_tools(spec, row))
        refused = [name for name in wanted if name not in declared]
        if refused:
            raise CredentialNotDeclared(
                f"tool {task.name!r} does not declare {', '.join(refused)} in its credentials "
                "(nor does its agent or run)"
            )
        try:
            values = await self.resolve(wanted, row.id)
        except MissingSecret as exc:
            raise NotFound(str(exc), ErrorCode.CREDENTIAL_NOT_FOUND) from None
        log.info(
            "gave credentials %s to task %s (tool %s, execution %s)",
            ", ".join(wanted),
            task_id,
            task.name,
            row.id,
        )
        return values

    async def _spec(self, row: ExecutionRow) -> AgentConfig:
        if self._spec_of is None:
            raise CredentialStoreUnavailable("this server cannot give credentials to workers")
        return await self._spec_of(row)

    async def lookup(self, names: Iterable[str]) -> dict[str, str]:
        """The values of those of ``names`` that are set and open with this server's key."""
        values: dict[str, str] = {}
        for name in names:
            row = await self._store.get_credential(name)
            if row is None:
                continue
            try:
                values[name] = self._open(row)
            except MasterKeyError as exc:
                log.error("credential %r cannot be read on this server: %s", name, exc)
        return values

    def _open(self, row: CredentialRow) -> str:
        key = self._keys.current()
        if key is None or key.key_id != row.key_id:
            key = self._keys.refresh()  # rotated meanwhile by `agentspan credentials rotate-master-key`
        if key is None or key.key_id != row.key_id:
            raise MasterKeyError(self._foreign_key_message(key, {row.key_id}))
        return key.open(row.name, row.ciphertext)

    # --- the master key --------------------------------------------------------------------

    async def _sealing_key(self) -> MasterKey:
        """The key new values are sealed with; made on first use (key file mode). Refused
        when the stored values carry another key: one database, one key."""
        async with self._creating:
            try:
                key = self._keys.current()
                in_use = {row.key_id for row in await self._store.list_credentials()}
                if key is not None and in_use - {key.key_id}:
                    key = self._keys.refresh()  # rotated meanwhile by another process?
                foreign = in_use - {key.key_id} if key is not None else in_use
                if foreign:
                    raise CredentialStoreUnavailable(self._foreign_key_message(key, foreign))
                return key if key is not None else self._keys.create()
            except MasterKeyError as exc:
                raise CredentialStoreUnavailable(str(exc)) from None

    def _foreign_key_message(self, key: MasterKey | None, foreign: Collection[str]) -> str:
        ids = ", ".join(sorted(foreign))
        has = f"has key {key.key_id} ({key.source})" if key is not None else "has no master key"
        return (
            f"the stored credentials were sealed with master key {ids}, and this server {has}: "
            "give every server of this database the same AGENTSPAN_MASTER_KEY "
            "(or the data dir's master.key)"
        )


async def rotate(store: Store, old: MasterKey, new: MasterKey) -> int:
    """Re-seal every credential from ``old`` to ``new`` in one transaction (all or none);
    how many were re-sealed. Rows already under ``new`` are left as they are."""
    async with store.transaction() as tx:
        rows = await tx.credentials_for_update()
        count = 0
        for row in rows:
            if row.key_id == new.key_id:
                continue
            if row.key_id != old.key_id:
                raise MasterKeyError(
                    f"credential {row.name!r} was sealed with master key {row.key_id}, "
                    f"neither the current ({old.key_id}) nor the new one ({new.key_id}); nothing was changed"
                )
            await tx.reseal_credential(
                row.name, new.seal(row.name, old.open(row.name, row.ciphertext)), new.key_id
            )
            count += 1
    return count


# --- what a start may declare ------------------------------------------------------------


def declared_by(spec: AgentConfig, tool_name: str) -> set[str]:
    """The credentials the worker tool ``tool_name`` of this agent declares."""
    for tool in spec.tools:
        if tool.name == tool_name and isinstance(tool.config, WorkerSettings):
            return set(tool.config.credentials or ())
    return set()


def check_declarations(spec: AgentConfig, run_credentials: Collection[str], path: str = "") -> None:
    """Refuse credentials the server cannot honour: a name no credential could have, a
    header placeholder that neither its tool, its agent nor the run declares, and
    credentials on agent tools (declare them on the sub-agent instead)."""
    where = f"{path}{spec.name}"
    if not path:
        bad = [name for name in run_credentials if CREDENTIAL_NAME_PATTERN.fullmatch(name) is None]
        if bad:
            raise ValidationFailed(f"credentials: {bad[0]!r} is not a credential name ({_NAME_RULE})")
    for name in spec.credentials or ():
        _check_declared_name(name, f"agent '{where}'")
    available = [*(spec.credentials or ()), *run_credentials]
    for tool in spec.tools:
        config = tool.config
        if isinstance(config, HttpSettings | ApiSettings | McpSettings | WorkerSettings):
            for name in config.credentials or ():
                _check_declared_name(name, f"agent '{where}': tool '{tool.name}'")
            missing = (
                []
                if isinstance(config, WorkerSettings)
                else undeclared(config.headers, [*(config.credentials or ()), *available])
            )
            if missing:
                raise InvalidAgent(
                    f"agent '{where}': tool '{tool.name}': headers use {', '.join(missing)} "
                    "without declaring it in the tool's, the agent's or the run's credentials"
                )
        elif isinstance(config, AgentToolSettings) and config.credentials:
            raise InvalidAgent(
                f"agent '{where}': tool '{tool.name}': credentials {config.credentials}: "
                f"{AGENT_TOOL_CREDENTIALS_REFUSED}"
            )
    for nested in spec.nested_agents():
        check_declarations(nested, run_credentials, f"{where}/")


_NAME_RULE = "letters, digits and '_', not starting with a digit"


def _check_declared_name(name: str, where: str) -> None:
    if CREDENTIAL_NAME_PATTERN.fullmatch(name) is None:
        raise InvalidAgent(f"{where}: {name!r} is not a credential name ({_NAME_RULE})")
