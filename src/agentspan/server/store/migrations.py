"""Versioned schema migrations: one pair of DDL lists (SQLite, PostgreSQL) per version.

Version N is ``MIGRATIONS[N - 1]``; never edit a shipped one. A change, such as a new
aggregate's tables (store/credentials.py, memory.py, ...), appends one ``Migration``
holding both dialects' statements, so the two can only move in lockstep;
tests/contract/test_postgres.py checks that each version describes the same tables,
columns and indexes in both.

Types, PostgreSQL side: JSON documents are ``text``, not ``jsonb``: the store hands back
exactly the bytes it was given (spec hashes are computed over canonical JSON, and jsonb
would reorder keys and respace it), and nothing queries inside them. Times are ``double
precision`` epoch seconds, as in SQLite, so both compare the same. Integers are
``bigint`` because SQLite's INTEGER is 64-bit.

(Multi-line statements keep the indentation they shipped with: SQLite stores the text
of its DDL, and a shipped version must create byte-identical schemas.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema version, in both dialects' DDL."""

    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


SEARCHED_CHARS = 10_000
"""How much of an input, output and error the search index keeps (each)."""
_ENDED = "('COMPLETED', 'FAILED', 'TERMINATED', 'TIMED_OUT')"
_SQLITE_ROW_TEXT = f"NEW.id || ' ' || NEW.agent_name || ' ' || substr(NEW.input, 1, {SEARCHED_CHARS})"
_SQLITE_ENDED_TEXT = (
    f"' ' || COALESCE(substr(json_extract(NEW.state, '$.output'), 1, {SEARCHED_CHARS}), '') || ' ' || "
    f"COALESCE(substr(json_extract(NEW.state, '$.error'), 1, {SEARCHED_CHARS}), '')"
)
_SEARCH_SQLITE = (
    # A trigram index answers LIKE '%text%' (case-insensitively) without reading the
    # executions. FTS5 rowids are the docids of the keys table (an INTEGER PRIMARY KEY, so
    # a VACUUM keeps them), which finds an execution's entry by id.
    "CREATE TABLE execution_search_keys (docid INTEGER PRIMARY KEY, execution_id TEXT NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE execution_search USING fts5(execution_id UNINDEXED, body, tokenize = 'trigram')",
    "INSERT INTO execution_search_keys (execution_id) SELECT id FROM executions ORDER BY created_at",
    "INSERT INTO execution_search (rowid, execution_id, body) SELECT k.docid, e.id, "
    f"e.id || ' ' || e.agent_name || ' ' || substr(e.input, 1, {SEARCHED_CHARS}) || "
    f"CASE WHEN e.status IN {_ENDED} THEN "
    + _SQLITE_ENDED_TEXT.replace("NEW.", "e.")
    + " ELSE '' END FROM executions e JOIN execution_search_keys k ON k.execution_id = e.id",
    f"""CREATE TRIGGER execution_search_insert AFTER INSERT ON executions BEGIN
            INSERT INTO execution_search_keys (execution_id) VALUES (NEW.id);
            INSERT INTO execution_search (rowid, execution_id, body) VALUES (
                (SELECT docid FROM execution_search_keys WHERE execution_id = NEW.id), NEW.id, {_SQLITE_ROW_TEXT});
        END""",
    f"""CREATE TRIGGER execution_search_ended AFTER UPDATE OF status ON executions
        WHEN NEW.status IN {_ENDED} AND OLD.status NOT IN {_ENDED} BEGIN
            UPDATE execution_search SET body = body || {_SQLITE_ENDED_TEXT}
            WHERE rowid = (SELECT docid FROM execution_search_keys WHERE execution_id = NEW.id);
        END""",
    """CREATE TRIGGER execution_search_delete AFTER DELETE ON executions BEGIN
            DELETE FROM execution_search WHERE rowid = (SELECT docid FROM execution_search_keys WHERE execution_id = OLD.id);
            DELETE FROM execution_search_keys WHERE execution_id = OLD.id;
        END""",
)
_PG_ROW_TEXT = f"lower(NEW.id || ' ' || NEW.agent_name || ' ' || left(NEW.input, {SEARCHED_CHARS}))"
_PG_ENDED_TEXT = (
    f"lower(' ' || COALESCE(left(NEW.state::jsonb ->> 'output', {SEARCHED_CHARS}), '') || ' ' || "
    f"COALESCE(left(NEW.state::jsonb ->> 'error', {SEARCHED_CHARS}), ''))"
)
_SEARCH_POSTGRES = (
    # pg_trgm (a trusted extension: the database owner may create it) indexes the lower-cased
    # text for LIKE '%text%'.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE TABLE execution_search (execution_id text PRIMARY KEY, body text NOT NULL)",
    "INSERT INTO execution_search (execution_id, body) SELECT id, "
    + _PG_ROW_TEXT.replace("NEW.", "")
    + f" || CASE WHEN status IN {_ENDED} THEN "
    + _PG_ENDED_TEXT.replace("NEW.", "")
    + " ELSE '' END FROM executions",
    "CREATE INDEX execution_search_body ON execution_search USING gin (body gin_trgm_ops)",
    f"""CREATE FUNCTION agentspan_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO execution_search (execution_id, body) VALUES (NEW.id, {_PG_ROW_TEXT});
            RETURN NULL;
        END $$""",
    "CREATE TRIGGER execution_search_insert AFTER INSERT ON executions "
    "FOR EACH ROW EXECUTE FUNCTION agentspan_search_insert()",
    f"""CREATE FUNCTION agentspan_search_ended() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE execution_search SET body = body || {_PG_ENDED_TEXT} WHERE execution_id = NEW.id;
            RETURN NULL;
        END $$""",
    "CREATE TRIGGER execution_search_ended AFTER UPDATE OF status ON executions FOR EACH ROW "
    f"WHEN (NEW.status IN {_ENDED} AND OLD.status NOT IN {_ENDED}) EXECUTE FUNCTION agentspan_search_ended()",
    """CREATE FUNCTION agentspan_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM execution_search WHERE execution_id = OLD.id;
            RETURN NULL;
        END $$""",
    "CREATE TRIGGER execution_search_delete AFTER DELETE ON executions "
    "FOR EACH ROW EXECUTE FUNCTION agentspan_search_delete()",
)


_LIST_INDEXES = (
    # Children by parent and every root (parent_id IS NULL) come out of one index already
    # in list order; the old one (parent_id alone) made SQLite sort every root for a page.
    "DROP INDEX executions_parent",
    "CREATE INDEX executions_parent ON executions (parent_id, created_at, id)",
    "CREATE INDEX executions_roots_status ON executions (status, created_at, id) WHERE parent_id IS NULL",
    "CREATE INDEX executions_roots_agent ON executions (agent_name, created_at, id) WHERE parent_id IS NULL",
)
"""The same text in both dialects (partial indexes included)."""

MIGRATIONS: tuple[Migration, ...] = (
    # 1: executions, events, messages, specs, the task queue and pollers.
    Migration(
        sqlite=(
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
        ),
        postgres=(
            "CREATE TABLE IF NOT EXISTS agentspan_meta (key text PRIMARY KEY, value text NOT NULL)",
            "CREATE TABLE specs (hash text PRIMARY KEY, spec text NOT NULL)",
            """CREATE TABLE executions (
            id text PRIMARY KEY,
            parent_id text REFERENCES executions(id),
            root_id text NOT NULL,
            agent_name text NOT NULL,
            spec_hash text NOT NULL REFERENCES specs(hash),
            status text NOT NULL,
            state text NOT NULL,
            version bigint NOT NULL,
            event_seq bigint NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            input text NOT NULL,
            idempotency_key text,
            session_id text NOT NULL DEFAULT ''
        )""",
            "CREATE INDEX executions_status ON executions (status, created_at)",
            "CREATE INDEX executions_created ON executions (created_at)",
            "CREATE INDEX executions_parent ON executions (parent_id)",
            "CREATE INDEX executions_idem ON executions (agent_name, idempotency_key)",
            """CREATE TABLE events (
            execution_id text NOT NULL,
            seq bigint NOT NULL,
            type text NOT NULL,
            payload text NOT NULL,
            ts double precision NOT NULL,
            PRIMARY KEY (execution_id, seq)
        )""",
            """CREATE TABLE messages (
            execution_id text NOT NULL,
            idx bigint NOT NULL,
            body text NOT NULL,
            PRIMARY KEY (execution_id, idx)
        )""",
            """CREATE TABLE tasks (
            id text PRIMARY KEY,
            execution_id text NOT NULL,
            kind text NOT NULL,
            name text NOT NULL,
            call_id text NOT NULL,
            input text NOT NULL,
            status text NOT NULL,
            attempt bigint NOT NULL,
            lease_id text,
            lease_expires_at double precision,
            available_at double precision NOT NULL,
            created_at double precision NOT NULL,
            idempotency_key text NOT NULL,
            timeout_seconds double precision,
            stalled boolean NOT NULL DEFAULT false,
            worker_id text
        )""",
            "CREATE INDEX tasks_claim ON tasks (kind, name, status, available_at)",
            "CREATE INDEX tasks_execution ON tasks (execution_id)",
            """CREATE TABLE pollers (
            name text PRIMARY KEY,
            worker_id text NOT NULL,
            last_poll_at double precision NOT NULL
        )""",
        ),
    ),
    # 2: spending limits shared by an execution and all its children (budgets.py).
    Migration(
        sqlite=(
            """CREATE TABLE budgets (
            root_id TEXT PRIMARY KEY,
            max_cost_usd REAL,
            max_tokens INTEGER,
            used_cost_usd REAL NOT NULL DEFAULT 0,
            used_tokens INTEGER NOT NULL DEFAULT 0
        )""",
        ),
        postgres=(
            """CREATE TABLE budgets (
            root_id text PRIMARY KEY,
            max_cost_usd double precision,
            max_tokens bigint,
            used_cost_usd double precision NOT NULL DEFAULT 0,
            used_tokens bigint NOT NULL DEFAULT 0
        )""",
        ),
    ),
    # 3: API keys, stored as hashes (keys.py); an active key's name is unique.
    Migration(
        sqlite=(
            """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            created_at REAL NOT NULL,
            created_by TEXT NOT NULL,
            revoked_at REAL
        )""",
            "CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL",
        ),
        postgres=(
            """CREATE TABLE api_keys (
            id text PRIMARY KEY,
            name text NOT NULL,
            secret_hash text NOT NULL,
            scopes text NOT NULL,
            created_at double precision NOT NULL,
            created_by text NOT NULL,
            revoked_at double precision
        )""",
            "CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL",
        ),
    ),
    # 4: conversation memory of sessions (memory.py): each completed run's exchange, in order.
    Migration(
        sqlite=(
            """CREATE TABLE session_messages (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            execution_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL
        )""",
            "CREATE UNIQUE INDEX session_messages_run ON session_messages (execution_id, idx)",
            "CREATE INDEX session_messages_session ON session_messages (session_id, id)",
        ),
        postgres=(
            """CREATE TABLE session_messages (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            session_id text NOT NULL,
            execution_id text NOT NULL,
            idx bigint NOT NULL,
            body text NOT NULL,
            created_at double precision NOT NULL
        )""",
            "CREATE UNIQUE INDEX session_messages_run ON session_messages (execution_id, idx)",
            "CREATE INDEX session_messages_session ON session_messages (session_id, id)",
        ),
    ),
    # 5: credentials, as AES-256-GCM ciphertext only (credentials.py).
    Migration(
        sqlite=(
            """CREATE TABLE credentials (
            name TEXT PRIMARY KEY,
            ciphertext BLOB NOT NULL,
            key_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            created_by TEXT NOT NULL,
            updated_by TEXT NOT NULL
        )""",
        ),
        postgres=(
            """CREATE TABLE credentials (
            name text PRIMARY KEY,
            ciphertext bytea NOT NULL,
            key_id text NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            created_by text NOT NULL,
            updated_by text NOT NULL
        )""",
        ),
    ),
    # 6: the inbox of running executions (inbox.py): messages sent to them, in order.
    Migration(
        sqlite=(
            """CREATE TABLE inbox (
            execution_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL,
            call_id TEXT,
            delivered_at REAL,
            PRIMARY KEY (execution_id, seq)
        )""",
        ),
        postgres=(
            """CREATE TABLE inbox (
            execution_id text NOT NULL,
            seq bigint NOT NULL,
            body text NOT NULL,
            created_at double precision NOT NULL,
            call_id text,
            delivered_at double precision,
            PRIMARY KEY (execution_id, seq)
        )""",
        ),
    ),
    # 7: the executions list (the UI's, by keyset cursor) walks an index newest first,
    # for the top-level executions it shows by default, unfiltered or by status or agent.
    Migration(sqlite=_LIST_INDEXES, postgres=_LIST_INDEXES),
    # 8: deployments, named and versioned agent definitions (deployments.py).
    Migration(
        sqlite=(
            """CREATE TABLE deployments (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            spec_hash TEXT NOT NULL REFERENCES specs(hash),
            created_at REAL NOT NULL,
            created_by TEXT NOT NULL,
            PRIMARY KEY (name, version)
        )""",
            "CREATE INDEX executions_agent_status ON executions (agent_name, status)",
        ),
        postgres=(
            """CREATE TABLE deployments (
            name text NOT NULL,
            version bigint NOT NULL,
            spec_hash text NOT NULL REFERENCES specs(hash),
            created_at double precision NOT NULL,
            created_by text NOT NULL,
            PRIMARY KEY (name, version)
        )""",
            "CREATE INDEX executions_agent_status ON executions (agent_name, status)",
        ),
    ),
    # 9: forks (forks.py): an execution forked from another one's step.
    Migration(
        sqlite=(
            """CREATE TABLE forks (
            execution_id TEXT PRIMARY KEY,
            origin_id TEXT NOT NULL,
            from_step INTEGER NOT NULL,
            created_at REAL NOT NULL
        )""",
            "CREATE INDEX forks_origin ON forks (origin_id, created_at)",
        ),
        postgres=(
            """CREATE TABLE forks (
            execution_id text PRIMARY KEY,
            origin_id text NOT NULL,
            from_step bigint NOT NULL,
            created_at double precision NOT NULL
        )""",
            "CREATE INDEX forks_origin ON forks (origin_id, created_at)",
        ),
    ),
    # 10: free-text search of executions (executions.py: SEARCH_CLAUSE), kept by triggers
    # in the transaction that changes the row.
    Migration(sqlite=_SEARCH_SQLITE, postgres=_SEARCH_POSTGRES),
    # 11: a message sent with an idempotency key is queued once (inbox.py), and media made by
    # server-side tools (images, speech, video) are kept as bounded blobs (media.py).
    Migration(
        sqlite=(
            "ALTER TABLE inbox ADD COLUMN idempotency_key TEXT",
            "CREATE UNIQUE INDEX inbox_idempotency ON inbox (execution_id, idempotency_key)",
            """CREATE TABLE media (
            id TEXT PRIMARY KEY,
            execution_id TEXT NOT NULL,
            content_type TEXT NOT NULL,
            data BLOB NOT NULL,
            created_at REAL NOT NULL
        )""",
            "CREATE INDEX media_execution ON media (execution_id)",
        ),
        postgres=(
            "ALTER TABLE inbox ADD COLUMN idempotency_key text",
            "CREATE UNIQUE INDEX inbox_idempotency ON inbox (execution_id, idempotency_key)",
            """CREATE TABLE media (
            id text PRIMARY KEY,
            execution_id text NOT NULL,
            content_type text NOT NULL,
            data bytea NOT NULL,
            created_at double precision NOT NULL
        )""",
            "CREATE INDEX media_execution ON media (execution_id)",
        ),
    ),
    # 12: semantic memory kept by the server (memory_entries.py): entries per namespace and
    # index, with an optional float32 embedding.
    Migration(
        sqlite=(
            """CREATE TABLE memory_entries (
            namespace TEXT NOT NULL,
            index_name TEXT NOT NULL,
            id TEXT NOT NULL,
            content TEXT NOT NULL,
            metadata TEXT NOT NULL,
            doc_id TEXT,
            embedding BLOB,
            embedding_model TEXT,
            dimensions INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (namespace, index_name, id)
        )""",
            "CREATE INDEX memory_entries_doc ON memory_entries (namespace, index_name, doc_id)",
            "CREATE INDEX memory_entries_age ON memory_entries (namespace, index_name, created_at, id)",
        ),
        postgres=(
            """CREATE TABLE memory_entries (
            namespace text NOT NULL,
            index_name text NOT NULL,
            id text NOT NULL,
            content text NOT NULL,
            metadata text NOT NULL,
            doc_id text,
            embedding bytea,
            embedding_model text,
            dimensions integer,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            PRIMARY KEY (namespace, index_name, id)
        )""",
            "CREATE INDEX memory_entries_doc ON memory_entries (namespace, index_name, doc_id)",
            "CREATE INDEX memory_entries_age ON memory_entries (namespace, index_name, created_at, id)",
        ),
    ),
)

SQLITE_MIGRATIONS: list[list[str]] = [list(m.sqlite) for m in MIGRATIONS]
POSTGRES_MIGRATIONS: list[list[str]] = [list(m.postgres) for m in MIGRATIONS]
"""Each dialect's statements by version, as the stores (and tests) run them."""
