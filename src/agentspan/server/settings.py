"""Server settings: the one place configuration is read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    return Path(os.environ.get("AGENTSPAN_DATA_DIR", str(Path.home() / ".agentspan")))


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


@dataclass(slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 6767
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    """``sqlite:///path`` (default: ``<data_dir>/agentspan.db``)."""
    worker_lease_seconds: float = 10.0
    """How long a worker owns a task without a heartbeat. Short, so a dead worker is noticed fast."""
    llm_lease_seconds: float = 30.0
    no_worker_after_seconds: float = 30.0
    """A worker task nobody polls for this long is reported (event + status)."""
    watchdog_interval_seconds: float = 1.0
    llm_concurrency: int = 64
    llm_max_attempts: int = 5

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        settings = cls(
            database_url=os.environ.get("AGENTSPAN_DATABASE_URL") or None,
            worker_lease_seconds=_float_env("AGENTSPAN_WORKER_LEASE_SECONDS", 10.0),
            llm_lease_seconds=_float_env("AGENTSPAN_LLM_LEASE_SECONDS", 30.0),
            no_worker_after_seconds=_float_env("AGENTSPAN_NO_WORKER_TIMEOUT", 30.0),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        settings.data_dir = Path(settings.data_dir).expanduser()
        return settings

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'agentspan.db'}"
