"""Persistence: one store interface, with dialect specifics in their own modules."""

from agentspan.server.store.base import (
    ConflictError,
    EventRow,
    ExecutionRow,
    Store,
    StoreError,
    TaskRow,
    Tx,
)

__all__ = ["ConflictError", "EventRow", "ExecutionRow", "Store", "StoreError", "TaskRow", "Tx"]
