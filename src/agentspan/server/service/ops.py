"""``OpsService``: the scrape behind ``/metrics`` and the report behind ``agentspan doctor``.

Both read shared state from the store outside any transaction of a run; neither ever
reads a secret's value (a provider key is reported as present, and where from).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

import agentspan
from agentspan.protocol.ops import DatabaseStatus, DoctorReport, KeySource, ProviderKeyStatus
from agentspan.server.observability.metrics import WORKER_WINDOW_SECONDS, Metrics
from agentspan.server.providers import ProviderRegistry
from agentspan.server.service.credentials import CredentialService
from agentspan.server.settings import Settings
from agentspan.server.store.base import Store
from agentspan.server.store.migrations import MIGRATIONS


class OpsService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        providers: ProviderRegistry,
        credentials: CredentialService,
        metrics: Metrics | None,
        *,
        keys_required: Callable[[], bool],
        dropped: Callable[[], int],
        tracing_enabled: bool,
    ) -> None:
        self._settings = settings
        self._store = store
        self._providers = providers
        self._credentials = credentials
        self.metrics = metrics
        self._keys_required = keys_required
        self._dropped = dropped
        self._tracing = tracing_enabled

    async def metrics_text(self) -> bytes | None:
        """The Prometheus exposition, or None when metrics are switched off."""
        if self.metrics is None:
            return None
        await self.metrics.refresh_shared(self._store, self._dropped())
        return self.metrics.render()

    async def doctor(self) -> DoctorReport:
        database = await self._database()
        pending = stalled = workers = 0
        if database.reachable:
            for q in await self._store.queue_counts():
                if q.kind == "worker":
                    pending += q.count
                    stalled += q.count if q.stalled else 0
            workers = await self._store.workers_seen(time.time() - WORKER_WINDOW_SECONDS)
        return DoctorReport(
            version=agentspan.__version__,
            database=database,
            providers=await self._provider_keys() if database.reachable else [],
            workers_seen=workers,
            worker_window_seconds=WORKER_WINDOW_SECONDS,
            pending_worker_tasks=pending,
            stalled_worker_tasks=stalled,
            data_dir=str(self._settings.data_dir),
            disk_free_bytes=self._disk_free(),
            auth="keys" if self._keys_required() else "open",
            metrics_enabled=self.metrics is not None,
            tracing_enabled=self._tracing,
        )

    async def _database(self) -> DatabaseStatus:
        kind = self._store.url.split(":", 1)[0]
        latest = len(MIGRATIONS)
        try:
            await self._store.workers_seen(time.time())  # one round trip: is it answering?
        except Exception as exc:  # noqa: BLE001 - reported, not raised: that is the point of a doctor
            return DatabaseStatus(
                kind=kind,
                schema_version=self._store.schema_version,
                latest_schema_version=latest,
                reachable=False,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
        return DatabaseStatus(
            kind=kind, schema_version=self._store.schema_version, latest_schema_version=latest, reachable=True
        )

    async def _provider_keys(self) -> list[ProviderKeyStatus]:
        stored = {c.name for c in await self._credentials.list()}
        out: list[ProviderKeyStatus] = []
        for name in self._providers.provider_names:
            envs = self._providers.key_envs(name)
            source: KeySource
            if not envs:
                source = "not_needed"
            elif self._providers.key_in_environment(name):
                source = "environment"
            elif stored.intersection(envs):
                source = "credential_store"
            else:
                source = "absent"
            out.append(ProviderKeyStatus(provider=name, key_names=list(envs), source=source))
        return out

    def _disk_free(self) -> int | None:
        path = self._settings.data_dir
        while not path.exists() and path != path.parent:
            path = path.parent
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return None
