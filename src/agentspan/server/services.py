"""The objects one server process runs, wired together (instance-scoped, no globals)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentspan.server.driver import Driver
from agentspan.server.executors.base import Executor, ExecutorContext, ExecutorRegistry
from agentspan.server.executors.delay import DelayExecutor
from agentspan.server.executors.guardrails import LlmGuardrailExecutor
from agentspan.server.executors.http_tool import HttpToolExecutor
from agentspan.server.executors.llm import LlmExecutor
from agentspan.server.executors.mcp_tool import McpToolExecutor
from agentspan.server.executors.media_tool import AudioToolExecutor, ImageToolExecutor
from agentspan.server.executors.memory_index import MemoryIndexes
from agentspan.server.executors.pdf_tool import PdfToolExecutor
from agentspan.server.executors.pool import ExecutorPool
from agentspan.server.executors.rag_tools import RagIndexExecutor, RagSearchExecutor
from agentspan.server.executors.recall import RecallExecutor
from agentspan.server.executors.timer import TimerExecutor
from agentspan.server.hub import Hub
from agentspan.server.observers import AnyObserver, ObserverBus
from agentspan.server.providers import ProviderRegistry
from agentspan.server.service.credentials import CredentialService
from agentspan.server.service.keys import KeyService
from agentspan.server.service.master_key import KeySource
from agentspan.server.service.mcp_discovery import McpDiscovery
from agentspan.server.service.tools import ToolExpander
from agentspan.server.settings import Settings
from agentspan.server.store.base import Store, StoreError
from agentspan.server.store.sqlite import SqliteStore
from agentspan.server.tasks import TaskService
from agentspan.server.watchdog import Watchdog

if TYPE_CHECKING:
    from agentspan.server.store.pg_notify import PgNotifier


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url[len("sqlite:///") :]))
    if url == "sqlite://:memory:":
        return SqliteStore(":memory:")
    if _is_postgres(url):
        return _postgres_store(url)
    scheme = url.split(":", 1)[0]
    raise StoreError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///path/to/file.db "
        "or postgresql://user@host:5432/database"
    )


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def _postgres_store(url: str) -> Store:
    # Imported here: asyncpg is an optional extra, and SQLite users never need it.
    try:
        from agentspan.server.store.postgres import PostgresStore
    except ImportError as exc:
        if exc.name != "asyncpg":
            raise
        raise StoreError("PostgreSQL needs the asyncpg driver: pip install 'agentspan[postgres]'") from None
    # LISTEN needs a session; behind a transaction-mode pooler, give a direct URL for it.
    return PostgresStore(url, listen_url=os.environ.get("AGENTSPAN_DATABASE_LISTEN_URL") or None)


@dataclass
class Services:
    settings: Settings
    store: Store
    hub: Hub
    driver: Driver
    tasks: TaskService
    executors: ExecutorRegistry
    pool: ExecutorPool
    """Runs the server-side executors (model calls, timers, server-side tools)."""
    llm: LlmExecutor
    watchdog: Watchdog
    providers: ProviderRegistry
    keys: KeyService
    """The API keys, and who a request's key stands for."""
    mcp: McpDiscovery
    """MCP servers' tool listings, for starts (``ToolExpander``) and the MCP executor."""
    credentials: CredentialService
    """Sealed secrets; also the resolver server-side tools take ``${NAME}`` values from."""
    memory: MemoryIndexes
    """The server's semantic memory (``/api/memory``; the RAG tools and recalls build
    their own over the same context)."""
    observers: ObserverBus | None = None
    """Post-commit notifications (``None``: nobody observes, nothing is built)."""
    notifier: PgNotifier | None = None
    """Feeds the hub with other replicas' wake-ups (PostgreSQL only)."""
    tools: ToolExpander = field(default_factory=ToolExpander)
    """Expands discovering tools (``api_tool``) at start."""

    @classmethod
    async def start(
        cls,
        settings: Settings,
        store: Store | None = None,
        *,
        observers: Sequence[AnyObserver] = (),
        executors: Sequence[Executor] = (),
    ) -> Services:
        """Open the store and start the server's background work. ``observers`` hear
        about every committed step; ``executors`` add server-side kinds to the built-in
        model-call and timer executors."""
        store = store or open_store(settings.resolved_database_url())
        await store.open()
        hub = Hub()
        bus = ObserverBus(observers) if observers else None
        llm = LlmExecutor(settings, bus)
        mcp = McpDiscovery(settings)
        registry = ExecutorRegistry(
            [
                llm,
                TimerExecutor(),
                DelayExecutor(),
                LlmGuardrailExecutor(),
                HttpToolExecutor(settings.http_tools),
                McpToolExecutor(mcp),
                PdfToolExecutor(),
                ImageToolExecutor(),
                AudioToolExecutor(),
                RagIndexExecutor(),
                RagSearchExecutor(),
                RecallExecutor(),
                *executors,
            ]
        )
        notifier: PgNotifier | None = None
        if _is_postgres(store.url):
            # Several replicas may share the database: a lease may belong to a live
            # replica, so leases are left to expire, and wake-ups travel by NOTIFY.
            notifier = await _start_notifier(store, hub)
        else:
            # SQLite allows one server per file (a lock enforces it), so any lease on
            # server-side work was held by a previous, dead process of ours. Work the
            # engine must hear was lost (server-side tools) keeps its lease until expiry.
            await store.release_server_leases(
                [e.kind for e in registry.server_side() if e.reruns_lost_leases]
            )
        driver = Driver(store, hub, registry, bus)
        providers = ProviderRegistry()
        credentials = CredentialService(
            store, KeySource(settings.data_dir, settings.master_key), spec_of=driver.spec_of
        )
        ctx = ExecutorContext(
            store=store,
            settings=settings,
            providers=providers,
            spec_of=driver.spec_of,
            delta_sink=hub.delta_sink,
            secrets=credentials,
            provider_keys=credentials,
        )
        mcp.secrets = ctx.secrets  # discovery resolves header credentials as calls do
        services = cls(
            settings=settings,
            store=store,
            hub=hub,
            driver=driver,
            tasks=TaskService(driver, settings),
            executors=registry,
            pool=ExecutorPool(driver, registry, ctx),
            llm=llm,
            watchdog=Watchdog(driver, settings),
            providers=providers,
            keys=KeyService(store, hub, settings.auth_token),
            mcp=mcp,
            credentials=credentials,
            observers=bus,
            notifier=notifier,
            tools=ToolExpander(settings.http_tools, lambda: ctx.secrets, mcp=mcp),
            memory=MemoryIndexes(ctx),
        )
        if bus is not None:
            bus.start()
        await services.keys.start()
        await services.credentials.start()
        await services.pool.start()
        await services.watchdog.start()
        return services

    async def stop(self) -> None:
        await self.keys.stop()
        await self.watchdog.stop()
        await self.pool.stop()
        if self.observers is not None:
            await self.observers.stop()
        if self.notifier is not None:
            await self.notifier.stop()
        await self.providers.aclose()
        await self.store.close()


async def _start_notifier(store: Store, hub: Hub) -> PgNotifier:
    from agentspan.server.store.pg_notify import PgNotifier
    from agentspan.server.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        raise StoreError(f"{type(store).__name__} has a PostgreSQL URL but is not a PostgresStore")
    notifier = PgNotifier(store.listen_url, hub.notify)
    try:
        await notifier.start()
    except BaseException:
        await store.close()
        raise
    return notifier
