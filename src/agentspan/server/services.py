"""The objects one server process runs, wired together (instance-scoped, no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentspan.server.dispatcher import Dispatcher
from agentspan.server.driver import Driver
from agentspan.server.hub import Hub
from agentspan.server.providers import ProviderRegistry
from agentspan.server.settings import Settings
from agentspan.server.store.base import Store, StoreError
from agentspan.server.store.sqlite import SqliteStore
from agentspan.server.tasks import TaskService


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url[len("sqlite:///") :]))
    if url == "sqlite://:memory:":
        return SqliteStore(":memory:")
    scheme = url.split(":", 1)[0]
    raise StoreError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///path/to/file.db "
        "(PostgreSQL support is on the way)"
    )


@dataclass
class Services:
    settings: Settings
    store: Store
    hub: Hub
    driver: Driver
    tasks: TaskService
    dispatcher: Dispatcher
    providers: ProviderRegistry

    @classmethod
    async def start(cls, settings: Settings, store: Store | None = None) -> Services:
        store = store or open_store(settings.resolved_database_url())
        await store.open()
        # SQLite allows one server per file (a lock enforces it), so any lease on
        # server-side work was held by a previous, dead process of ours.
        await store.release_server_leases(["llm", "timer"])
        hub = Hub()
        driver = Driver(store, hub)
        providers = ProviderRegistry()
        services = cls(
            settings=settings,
            store=store,
            hub=hub,
            driver=driver,
            tasks=TaskService(driver, settings),
            dispatcher=Dispatcher(driver, settings, providers),
            providers=providers,
        )
        await services.dispatcher.start()
        return services

    async def stop(self) -> None:
        await self.dispatcher.stop()
        await self.providers.aclose()
        await self.store.close()
