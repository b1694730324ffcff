"""Versioned migrations of the catalog's own tables.

Each migration runs once, in order, inside one transaction with its bookkeeping row, so a
catalog is always at exactly one version. Append new migrations; never edit an applied one.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "create catalog tables",
        """
        CREATE TABLE apps (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL,
            slug TEXT NOT NULL COLLATE NOCASE,
            description TEXT NOT NULL DEFAULT '',
            is_active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT,
            UNIQUE (tenant, slug)
        );
        CREATE TABLE datasources (
            id INTEGER PRIMARY KEY,
            app_id INTEGER NOT NULL REFERENCES apps(id),
            name TEXT NOT NULL,
            slug TEXT NOT NULL COLLATE NOCASE,
            description TEXT NOT NULL DEFAULT '',
            provider_type TEXT NOT NULL,
            provider_config TEXT NOT NULL DEFAULT '{}',
            engine TEXT NOT NULL DEFAULT 'sqlite',
            database_name TEXT NOT NULL UNIQUE,
            is_active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT,
            UNIQUE (app_id, slug)
        );
        CREATE TABLE datatables (
            id INTEGER PRIMARY KEY,
            datasource_id INTEGER NOT NULL REFERENCES datasources(id),
            name TEXT NOT NULL COLLATE NOCASE,
            description TEXT NOT NULL DEFAULT '',
            json_schema TEXT NOT NULL,
            schema_hash TEXT NOT NULL,
            schema_version INTEGER NOT NULL DEFAULT 1,
            physical_table_name TEXT NOT NULL,
            is_materialized INTEGER NOT NULL DEFAULT 0,
            is_active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT,
            UNIQUE (datasource_id, name)
        );
        CREATE TABLE schema_versions (
            id INTEGER PRIMARY KEY,
            datatable_id INTEGER NOT NULL REFERENCES datatables(id),
            version INTEGER NOT NULL,
            json_schema TEXT NOT NULL,
            schema_hash TEXT NOT NULL,
            actor TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (datatable_id, version)
        );
        CREATE TABLE schema_operations (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL DEFAULT '',
            app_id INTEGER REFERENCES apps(id),
            datasource_id INTEGER REFERENCES datasources(id),
            datatable_id INTEGER REFERENCES datatables(id),
            operation TEXT NOT NULL,
            target_type TEXT NOT NULL,
            target TEXT NOT NULL,
            actor TEXT,
            status TEXT NOT NULL CHECK (status IN ('applied', 'refused', 'failed')),
            schema_before TEXT,
            schema_after TEXT,
            sql TEXT NOT NULL DEFAULT '[]',
            details TEXT NOT NULL DEFAULT '{}',
            duration_ms REAL,
            error TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX schema_operations_app ON schema_operations(app_id, id);
        CREATE INDEX schema_operations_datatable ON schema_operations(datatable_id, id);
        CREATE TRIGGER schema_operations_append_only_update
        BEFORE UPDATE ON schema_operations
        BEGIN SELECT RAISE(ABORT, 'schema_operations is append-only'); END;
        CREATE TRIGGER schema_operations_append_only_delete
        BEFORE DELETE ON schema_operations
        BEGIN SELECT RAISE(ABORT, 'schema_operations is append-only'); END;
        """,
    ),
    (
        2,
        "schema evolution: field aliases of jsonb documents, renames per version",
        """
        ALTER TABLE datatables ADD COLUMN field_aliases TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE schema_versions ADD COLUMN renames TEXT NOT NULL DEFAULT '{}';
        """,
    ),
    (
        3,
        "crash safety: schema changes in flight",
        """
        CREATE TABLE pending_schema_changes (
            datatable_id INTEGER PRIMARY KEY REFERENCES datatables(id),
            version INTEGER NOT NULL,
            json_schema TEXT NOT NULL,
            schema_hash TEXT NOT NULL,
            field_aliases TEXT NOT NULL,
            renames TEXT NOT NULL,
            operation TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        4,
        "import progress in the catalog",
        """
        CREATE TABLE imports (
            id TEXT PRIMARY KEY,
            datatable_id INTEGER NOT NULL,
            datatable TEXT NOT NULL,
            format TEXT NOT NULL,
            mode TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('running', 'done', 'refused', 'failed')),
            rows_read INTEGER NOT NULL DEFAULT 0,
            rows_written INTEGER NOT NULL DEFAULT 0,
            rows_invalid INTEGER NOT NULL DEFAULT 0,
            rows_discarded INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            errors TEXT NOT NULL DEFAULT '[]',
            actor TEXT,
            node TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE INDEX imports_running ON imports(state) WHERE state = 'running';
        """,
    ),
]


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'catalog_migrations'"
    ).fetchone()
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM catalog_migrations").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Bring the catalog up to the newest version; return the versions applied now."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS catalog_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"""
    )
    applied = []
    for version, name, sql in MIGRATIONS:
        if version <= current_version(conn):
            continue
        # executescript() would commit on its own; run statement by statement instead so the
        # migration and its bookkeeping row share one transaction.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO catalog_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _statements(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements, buffer = [], ""
    for line in script.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements
