"""Versioned schema migrations. Version N is ``MIGRATIONS[N - 1]``; never edit a shipped one."""

from __future__ import annotations

SQLITE_MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS agentspan_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE specs (hash TEXT PRIMARY KEY, spec TEXT NOT NULL)",
        """CREATE TABLE executions (
            id TEXT PRIMARY KEY,
            parent_id TEXT REFERENCES executions(id),
            root_id TEXT NOT NULL,
            agent_name TEXT NOT NULL,
            spec_hash TEXT NOT NULL REFERENCES specs(hash),
            status TEXT NOT NULL,
            state TEXT NOT NULL,
            version INTEGER NOT NULL,
            event_seq INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            input TEXT NOT NULL,
            idempotency_key TEXT,
            session_id TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX executions_status ON executions (status, created_at)",
        "CREATE INDEX executions_created ON executions (created_at)",
        "CREATE INDEX executions_parent ON executions (parent_id)",
        "CREATE INDEX executions_idem ON executions (agent_name, idempotency_key)",
        """CREATE TABLE events (
            execution_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            ts REAL NOT NULL,
            PRIMARY KEY (execution_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE messages (
            execution_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (execution_id, idx)
        ) WITHOUT ROWID""",
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            execution_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            call_id TEXT NOT NULL,
            input TEXT NOT NULL,
            status TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            lease_id TEXT,
            lease_expires_at REAL,
            available_at REAL NOT NULL,
            created_at REAL NOT NULL,
            idempotency_key TEXT NOT NULL,
            timeout_seconds REAL,
            stalled INTEGER NOT NULL DEFAULT 0,
            worker_id TEXT
        )""",
        "CREATE INDEX tasks_claim ON tasks (kind, name, status, available_at)",
        "CREATE INDEX tasks_execution ON tasks (execution_id)",
        """CREATE TABLE pollers (
            name TEXT PRIMARY KEY,
            worker_id TEXT NOT NULL,
            last_poll_at REAL NOT NULL
        )""",
    ],
    # 2: spending limits shared by an execution and all its children.
    [
        """CREATE TABLE budgets (
            root_id TEXT PRIMARY KEY,
            max_cost_usd REAL,
            max_tokens INTEGER,
            used_cost_usd REAL NOT NULL DEFAULT 0,
            used_tokens INTEGER NOT NULL DEFAULT 0
        )""",
    ],
]
