"""Errors every store raises, whatever the dialect or aggregate."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be used (wrong file, newer schema, locked by another server)."""


class StoreLockedError(StoreError):
    """Another process holds the database's one-process lock (SQLite: a running server)."""


class ConflictError(StoreError):
    """An optimistic version check failed: another writer changed the execution first."""
