"""Postgres-backed databases in Datasette's own listings.

Core lists databases, tables and views from ``datasette.databases`` and from the internal
database's ``catalog_*`` tables, which ``refresh_schemas`` fills by introspecting each
registered (SQLite) database, and it prunes catalog rows of any database not registered.
So a Postgres-backed database is registered too, as a ``ListedDatabase``: an in-memory SQLite
database holding the PostgreSQL schema's tables (columns with their PostgreSQL types, NOT NULL,
primary and foreign keys) and views (their columns), without rows. Core's introspection then
fills its catalog from it, and every listing built on the catalog and on ``Database``'s
introspection methods (``/``, ``/-/databases.json``, ``/-/schema``, ``/-/jump``,
``/-/allowed``, the data service's ``/-/instance.json`` and ``/-/resources.json``) lists the
database under Datasette's permission rules, tenancy's among them. Row counts and the size
come from PostgreSQL itself. Requests for the database's own pages never reach this object:
the mount (``web/postgres/mount.py``) serves them from PostgreSQL.

A view's body cannot be written for SQLite, so the mirror's views select NULLs under the
real column names; ``/-/schema`` shows that stub, not PostgreSQL's definition.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import uuid
from typing import Any

from datasette.database import Database
from datasette.views.base import DatasetteError

from ...catalog import store
from ...providers.postgres_storage import PostgresTarget
from ...schema.names import quote_identifier as q
from . import execute, introspect
from .sqltext import qualified

log = logging.getLogger(__name__)

COUNT_LIMIT = Database.count_limit  # core stops counting a table here
# A PostgreSQL type name SQLite's grammar takes as is ("timestamp with time zone",
# "numeric(10,2)"); any other ("integer[]", a quoted domain) is quoted as one name.
PLAIN_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*(?:\(\d+(?:,\s*\d+)?\))?$")


def column_sql(column: introspect.Column) -> str:
    """
    >>> column_sql(introspect.Column("id", 20, -1, "bigint", True, 1))
    '"id" bigint NOT NULL'
    >>> column_sql(introspect.Column("tags", 1009, -1, "text[]", False, 0))
    '"tags" "text[]"'
    """
    type_name = column.type_name if PLAIN_TYPE.match(column.type_name) else q(column.type_name)
    return f"{q(column.name)} {type_name}" + (" NOT NULL" if column.notnull else "")


def relation_ddl(relation: introspect.Relation, foreign_keys: list[tuple[str, str, str]]) -> str:
    """The SQLite statement that mirrors one relation; ``foreign_keys`` are its outgoing
    (column, other table, other column).

    >>> rel = introspect.Relation("v", True, (introspect.Column("a", 25, -1, "text", False, 0),))
    >>> relation_ddl(rel, [])
    'CREATE VIEW "v" ("a") AS SELECT NULL WHERE 0'
    """
    if relation.is_view:
        names = ", ".join(q(c.name) for c in relation.columns)
        nulls = ", ".join("NULL" for _ in relation.columns)
        return f"CREATE VIEW {q(relation.name)} ({names}) AS SELECT {nulls} WHERE 0"
    parts = [column_sql(c) for c in relation.columns]
    if relation.pks:
        parts.append(f"PRIMARY KEY ({', '.join(q(c) for c in relation.pks)})")
    for column, other_table, other_column in foreign_keys:
        parts.append(f"FOREIGN KEY ({q(column)}) REFERENCES {q(other_table)} ({q(other_column)})")
    return f"CREATE TABLE {q(relation.name)} (\n   " + ",\n   ".join(parts) + "\n)"


def schema_ddl(
    relations: dict[str, introspect.Relation], foreign_keys: list[tuple[str, str, str, str]]
) -> list[str]:
    """One statement per relation SQLite can hold: names SQLite reserves (``sqlite_*``) and
    names equal to an earlier one but for ASCII case (SQLite folds them) are left out."""
    outgoing: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, other_table, other_column in sorted(foreign_keys):
        outgoing.setdefault(table, []).append((column, other_table, other_column))
    statements, seen = [], set()
    for name, relation in relations.items():
        folded = name.lower()
        if folded.startswith("sqlite_") or folded in seen or not relation.columns:
            continue
        seen.add(folded)
        statements.append(relation_ddl(relation, outgoing.get(name, [])))
    return statements


class ListedDatabase(Database):
    """A Postgres-backed database as Datasette's listings see it (see the module's doc)."""

    def __init__(self, datasette, target: PostgresTarget):
        memory_name = f"dataservice_postgres_{uuid.uuid4().hex}"
        super().__init__(datasette, memory_name=memory_name, is_mutable=True)
        # Its data lives in PostgreSQL, not in memory; but with --crossdb, core attaches every
        # database that is not in memory to _memory by its path, which a mirror has not.
        self.is_memory = bool(getattr(datasette, "crossdb", False))
        self.target = target
        self.statements: list[str] | None = None  # what the mirror holds
        self.fingerprint: tuple | None = None  # of the datatables it was last read for
        self.postgres_size = 0
        # A shared in-memory database lives while a connection to it is open.
        self._keeper = sqlite3.connect(
            f"file:{memory_name}?mode=memory&cache=shared", uri=True, check_same_thread=False
        )

    @property
    def size(self) -> int:
        return self.postgres_size

    @property
    def mtime_ns(self) -> None:
        return None

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._keeper.close()

    async def mirror(self, statements: list[str]) -> bool:
        """Make the mirror hold ``statements``' relations; False if it already did."""
        if statements == self.statements:
            return False

        def replace(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA foreign_keys = OFF")  # dropping in any order
            existing = conn.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'table')"
                " AND name NOT LIKE 'sqlite%' ORDER BY type = 'table'"
            ).fetchall()
            for kind, name in existing:
                conn.execute(f"DROP {kind.upper()} {q(name)}")
            for statement in statements:
                try:
                    conn.execute(statement)
                except sqlite3.Error as error:  # one odd relation does not hide the rest
                    log.warning("not listing a PostgreSQL relation: %s (%s)", error, statement)

        await self.execute_write_fn(replace, transaction=True)
        self.statements = statements
        return True

    async def table_counts(self, limit: int = 10) -> dict[str, int | None]:
        """Core's counts (up to ``count_limit``, each within ``limit`` ms), from PostgreSQL;
        None for every table when the time runs out or PostgreSQL cannot be reached."""
        names = await self.table_names()
        if not names:
            return {}
        try:
            async with execute.connection(self.target) as conn:
                return await table_counts(conn, self.target.schema, names, limit * len(names))
        except DatasetteError:  # out of time, unreachable, or a table gone since mirrored
            return dict.fromkeys(names)


async def table_counts(conn, schema: str, names: list[str], limit_ms: int) -> dict[str, Any]:
    """Each table's row count up to core's count limit, in one statement within
    ``limit_ms``; None for every table when the time runs out (as core's database page)."""
    if not names:
        return {}
    counts = ", ".join(
        f"(SELECT count(*) FROM (SELECT 1 FROM {qualified(schema, n)} LIMIT {COUNT_LIMIT + 1})"
        " AS counted)"
        for n in names
    )
    try:
        (result,) = await execute.read(conn, [(f"SELECT {counts}", {})], limit_ms)
    except DatasetteError as error:
        if error.title == "SQL Interrupted":
            return dict.fromkeys(names)
        raise
    return dict(zip(names, result.rows[0], strict=True))


async def read_schema(target: PostgresTarget) -> tuple[list[str], int]:
    """The mirror statements of a target's schema, and its size in bytes."""
    async with execute.connection(target) as conn:
        relations = await introspect.relations(conn, target.schema)
        cursor = await conn.execute(introspect.FOREIGN_KEYS_SQL, {"schema": target.schema})
        foreign_keys = [tuple(row) for row in await cursor.fetchall()]
        size = await introspect.schema_size(conn, target.schema)
    return schema_ddl(relations, foreign_keys), size


async def fingerprints(service) -> dict[str, tuple]:
    """Database name -> what the catalog says shapes its tables (each materialized
    datatable's id, table, schema version and hash, and whether it is deleted): a database
    whose fingerprint is unchanged need not be read again."""
    found: dict[str, list] = {}
    for row in await service.read(store.all_materialized_datatables):
        found.setdefault(row["database_name"], []).append(
            (row["id"], row["physical_table_name"], row["schema_version"], row["schema_hash"])
            + (row["is_active"], row["provider_type"])
        )
    return {name: tuple(rows) for name, rows in found.items()}
