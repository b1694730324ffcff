"""Move a SQLite catalog (``data_dir/catalog.db``) into a PostgreSQL catalog schema.

``datasette dataservice catalog-migrate`` calls ``copy_catalog``. The copy is generic: every
table both catalogs have (apart from ``catalog_migrations``, which each side keeps for
itself) is copied with the columns the SQLite table has, in foreign-key order, ids kept, and
each identity sequence set past the largest id; a table added by a later migration on both
sides is copied with no change here. Only what cannot move is special:

- ``datasources``: a SQLite datasource's data is a file on this node, which a shared catalog
  cannot serve (nor restore, when it is soft-deleted): any of them refuses the copy, unless
  the soft-deleted ones are to be left behind; then so are the rows that reference them
  (datatables, versions: whatever has a foreign key to a row left behind), but not their
  audit entries, which carry no foreign keys on Postgres. A Postgres datasource must name a
  connection the target configuration has.
- ``pending_schema_changes``: a change in flight is finished or undone by the start-up
  recovery of a server on the data directory, which knows the node's state; it is not moved.

Everything happens in one PostgreSQL transaction (the target's migration included): the copy
lands whole or not at all, and a dry run rolls the same transaction back. The data directory
is held with the server's ``DataDirLock`` throughout, so no server changes the source meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..config import DataServiceConfig
from ..errors import DataServiceError
from . import migrations
from .data_dir_lock import DataDirLock
from .engines import channel_of
from .postgres_migrations import migrate_postgres

OWN_TABLES = {"catalog_migrations"}  # each catalog's own bookkeeping, never copied


class CopyRefused(DataServiceError):
    """The catalog cannot be copied as it is; ``errors`` says why and what to do."""


@dataclass
class CopyResult:
    connection: str
    schema: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied, in copy order
    left_behind: dict[str, int] = field(default_factory=dict)  # table -> rows not copied
    dry_run: bool = False


def copy_catalog(
    config: DataServiceConfig, *, dry_run: bool = False, leave_deleted_sqlite: bool = False
) -> CopyResult:
    """Copy ``config.data_dir``'s SQLite catalog into ``config.catalog``'s Postgres schema.

    CopyRefused (nothing written) when the source holds what cannot move or the target
    already holds a catalog; DataDirInUse when a server holds the data directory.
    """
    if config.catalog.engine != "postgres":
        raise CopyRefused(
            "the configuration's catalog is not on PostgreSQL: give a configuration whose "
            "plugins.datasette-dataservice block has catalog: {engine: postgres, connection: "
            "NAME} and postgres: {NAME: {dsn: ...}}, the one the servers will use"
        )
    if not config.catalog_path.exists():
        raise CopyRefused(f"{config.data_dir} holds no catalog ({config.catalog_path.name})")
    connection = config.postgres[config.catalog.connection]
    schema = config.catalog.schema
    result = CopyResult(connection.name, schema, dry_run=dry_run)
    lock = DataDirLock.acquire(config.data_dir)
    try:
        with _source(config, migrate=not dry_run) as source:
            problems, leave = _source_problems(source, config, leave_deleted_sqlite)
            with _connect(config, connection.name) as conn:
                with conn.transaction() as transaction:
                    migrate_postgres(conn, schema)
                    plan = _plan(source, conn, schema)
                    problems += _target_problems(conn, schema, plan)
                    if problems:
                        raise CopyRefused(problems)
                    left = defaultdict(set, {("datasources", "id"): set(leave)})
                    for table in plan:
                        copied, omitted = _copy_table(source, conn, schema, table, plan, left)
                        result.rows[table] = copied
                        if omitted:
                            result.left_behind[table] = omitted
                    _check_counts(source, conn, schema, result)
                    if dry_run:
                        raise psycopg.Rollback(transaction)
                    # Nodes already serving the (empty) catalog serve the copy at commit.
                    conn.execute("SELECT pg_notify(%s, 'catalog-migrate')", (channel_of(schema),))
    finally:
        lock.release()
    return result


def _connect(config: DataServiceConfig, name: str) -> psycopg.Connection:
    try:
        return psycopg.connect(config.postgres[name].dsn, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:  # its text names host and port, not the DSN
        message = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        raise DataServiceError(
            f'PostgreSQL connection "{name}" is unavailable: {message}', status=503
        ) from error


@contextmanager
def _source(config: DataServiceConfig, *, migrate: bool) -> Iterator[sqlite3.Connection]:
    """The SQLite catalog at the newest version: migrated in place, as a server's start-up
    would, or (for a dry run, which changes nothing) a migrated copy in memory."""
    conn = sqlite3.connect(config.catalog_path, isolation_level=None)
    try:
        if not migrate:
            memory = sqlite3.connect(":memory:", isolation_level=None)
            conn.backup(memory)
            conn.close()
            conn = memory
        migrations.migrate(conn)
        yield conn
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection, query: str) -> list[dict]:
    cursor = conn.execute(query)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _source_problems(
    source: sqlite3.Connection, config: DataServiceConfig, leave_deleted_sqlite: bool
) -> tuple[list[str], list[int]]:
    """What keeps this catalog from moving, each with the way out; and the ids of the
    soft-deleted SQLite datasources to leave behind."""
    problems = []
    datasources = _rows(
        source,
        "SELECT d.*, a.slug AS app_slug, a.tenant, EXISTS (SELECT 1 FROM datatables t"
        " WHERE t.datasource_id = d.id AND t.is_materialized = 1) AS has_tables"
        " FROM datasources d JOIN apps a ON a.id = d.app_id ORDER BY a.tenant, a.slug, d.slug",
    )
    local = [d for d in datasources if d["engine"] != "postgres" and d["is_active"]]
    deleted = [d for d in datasources if d["engine"] != "postgres" and not d["is_active"]]
    if local:
        problems.append(
            f"{len(local)} datasource(s) keep their data in a SQLite file of this data directory,"
            " which a catalog shared by several nodes cannot serve: "
            + ", ".join(map(_name, local))
            + ". Move each to PostgreSQL first: create a datasource with provider_config "
            '{"engine": "postgres"} in its app, its datatables with the same schemas, and '
            "import their rows (datasette dataservice export writes them as CSV files; "
            "datasette dataservice import loads one); then delete the SQLite datasource"
        )
    if deleted and not leave_deleted_sqlite:
        problems.append(
            f"{len(deleted)} soft-deleted datasource(s) keep their data in a SQLite file of "
            "this data directory: "
            + ", ".join(_name(d) + " (deleted)" for d in deleted)
            + ". They could be restored, and their files do not move: restore and move them "
            "as above, or run again with --leave-deleted-sqlite to leave them behind (with "
            "their datatables and versions; their files stay here, their audit entries are "
            "copied)"
        )
    problems += _unreachable_datasources(
        [d for d in datasources if d["engine"] == "postgres"], config
    )
    pending = _rows(
        source,
        "SELECT a.slug AS app_slug, a.tenant, d.slug, t.name FROM pending_schema_changes p"
        " JOIN datatables t ON t.id = p.datatable_id"
        " JOIN datasources d ON d.id = t.datasource_id JOIN apps a ON a.id = d.app_id",
    )
    if pending:
        names = ", ".join(f"{_name(p)}/{p['name']}" for p in pending)
        problems.append(
            f"a schema change is in flight on {names}: finish or recover the change first "
            "(start the server on this data directory once: its start-up recovery completes "
            "or rolls back the change), then stop it and run this again"
        )
    return problems, [d["id"] for d in deleted] if leave_deleted_sqlite else []


def _name(row: dict) -> str:
    tenant = f"[tenant {row['tenant']}] " if row.get("tenant") else ""
    return f"{tenant}{row['app_slug']}/{row['slug']}"


def _unreachable_datasources(datasources: list[dict], config: DataServiceConfig) -> list[str]:
    """Postgres datasources the configured servers would not find: their connection is not
    configured, or the database holding their tables is not on it (the configuration names
    another server). A datasource's database is created with its first table, and would be
    again, empty: so only datasources with tables need theirs."""
    problems, databases = [], {}
    for datasource in datasources:
        provider_config = json.loads(datasource["provider_config"])
        connection = provider_config.get("connection")
        if connection not in config.postgres:
            problems.append(
                f'datasource {_name(datasource)} is on the PostgreSQL connection "{connection}",'
                f" which the configuration does not have ({', '.join(config.postgres)}):"
                " configure it as the servers will"
            )
        elif provider_config.get("database") and datasource["has_tables"]:
            databases.setdefault(connection, {})[provider_config["database"]] = datasource
    for connection, wanted in databases.items():
        with _connect(config, connection) as conn:
            found = {
                name
                for (name,) in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (list(wanted),)
                )
            }
        problems += [
            f'datasource {_name(datasource)}: its database "{database}" is not on the '
            f'PostgreSQL connection "{connection}": does the configuration name the server '
            "it lives on?"
            for database, datasource in wanted.items()
            if database not in found
        ]
    return problems


@dataclass
class Table:
    columns: list[str]  # the SQLite table's, all of which the Postgres one has
    # (column, referenced table, referenced column) for each foreign key on Postgres
    links: list[tuple[str, str, str]] = field(default_factory=list)


def _plan(source: sqlite3.Connection, conn: psycopg.Connection, schema: str) -> dict[str, Table]:
    """Every table both catalogs have, referenced tables first. A column or table only the
    source has would be lost: refused."""
    source_columns = {
        name: [row[1] for row in source.execute(f"PRAGMA table_info({_quoted(name)})")]
        for (name,) in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY rowid"  # the order the migrations created them in
        )
        if name not in OWN_TABLES
    }
    target_columns: dict[str, list[str]] = {}
    for table, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = %s ORDER BY table_name, ordinal_position",
        (schema,),
    ):
        target_columns.setdefault(table, []).append(column)
    missing = [
        f"{table}.{column}" if table in target_columns else table
        for table, columns in source_columns.items()
        for column in columns
        if column not in target_columns.get(table, ())
    ]
    if missing:
        raise CopyRefused(
            "the PostgreSQL catalog has no place for "
            + ", ".join(sorted(set(missing)))
            + ": this version of the plugin cannot copy this catalog"
        )
    tables = {name: Table(columns) for name, columns in source_columns.items()}
    needs: dict[str, set[str]] = {name: set() for name in tables}
    for table, column, referenced, referenced_column in conn.execute(
        "SELECT src.relname, a.attname, dst.relname, b.attname FROM pg_constraint c"
        " JOIN pg_class src ON src.oid = c.conrelid JOIN pg_class dst ON dst.oid = c.confrelid"
        " JOIN pg_namespace n ON n.oid = src.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
        " JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = c.confkey[1]"
        " WHERE c.contype = 'f' AND n.nspname = %s ORDER BY 1, 2",
        (schema,),
    ):
        if table in tables and referenced in tables:
            tables[table].links.append((column, referenced, referenced_column))
            if referenced != table:
                needs[table].add(referenced)
    order: list[str] = []
    while len(order) < len(tables):  # the first table created whose referenced ones are in
        ready = [t for t in tables if t not in order and needs[t] <= set(order)]
        if not ready:
            raise CopyRefused("the catalog's tables reference each other in a cycle")
        order.append(ready[0])
    return {name: tables[name] for name in order}


def _count(conn: psycopg.Connection, schema: str, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
    return conn.execute(query).fetchone()[0]


def _target_problems(conn: psycopg.Connection, schema: str, plan: dict) -> list[str]:
    """Catalogs are never merged: the target's catalog tables must be empty. They are locked
    until the transaction ends, so a server on that schema cannot write in between."""
    held = {}
    for table in plan:
        conn.execute(
            sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.Identifier(schema, table))
        )
        if count := _count(conn, schema, table):
            held[table] = count
    if not held:
        return []
    what = (
        f"{held['apps']} app(s)"
        if "apps" in held
        else ", ".join(f"{n} row(s) in {t}" for t, n in held.items())
    )
    return [
        f'the PostgreSQL schema "{schema}" already holds a catalog with {what}: catalogs are '
        "not merged. Name an unused schema (catalog.schema), or drop this one if it holds "
        "nothing you need"
    ]


def _copy_table(
    source: sqlite3.Connection,
    conn: psycopg.Connection,
    schema: str,
    name: str,
    plan: dict[str, Table],
    left: dict[tuple[str, str], set],
) -> tuple[int, int]:
    """COPY a table's rows in with their ids, but those left behind: the seeded ones in
    ``left`` and those referencing a row left behind. Returns (copied, left behind).
    Each identity sequence then starts past the source's largest id, so no id of a row left
    behind (which the audit trail may name) is given again."""
    table = plan[name]
    position = {column: i for i, column in enumerate(table.columns)}
    # This table's columns that rows of others reference, or that name rows to leave behind:
    # a row left behind adds its values there; and the references this table's rows make.
    tracked = {(t, c) for other in plan.values() for _, t, c in other.links} | set(left)
    own = [(position[c], left[(t, c)]) for t, c in sorted(tracked) if t == name and c in position]
    checks = own + [(position[c], left[(t, rc)]) for c, t, rc in table.links if c in position]
    names = sql.SQL(", ").join(map(sql.Identifier, table.columns))
    select = "SELECT {} FROM {}".format(", ".join(map(_quoted, table.columns)), _quoted(name))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(schema, name), names)
    copied = omitted = 0
    with conn.cursor().copy(statement) as copy:
        for row in source.execute(select):
            if any(row[i] is not None and row[i] in values for i, values in checks):
                for i, values in own:
                    values.add(row[i])
                omitted += 1
                continue
            copy.write_row(row)
            copied += 1
    identities = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s AND is_identity = 'YES'",
        (schema, name),
    ).fetchall()
    qualified = sql.Identifier(schema, name).as_string(conn)
    for (column,) in identities:
        (largest,) = source.execute(
            f"SELECT max({_quoted(column)}) FROM {_quoted(name)}"
        ).fetchone()
        if largest is not None:
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s)", (qualified, column, largest)
            )
    return copied, omitted


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_counts(
    source: sqlite3.Connection, conn: psycopg.Connection, schema: str, result: CopyResult
) -> None:
    """Belt and braces: every table holds its source's rows but those left behind."""
    for table, copied in result.rows.items():
        on_source = source.execute(f"SELECT count(*) FROM {_quoted(table)}").fetchone()[0]
        omitted = result.left_behind.get(table, 0)
        if not on_source - omitted == copied == _count(conn, schema, table):
            raise DataServiceError(
                f"{table}: {on_source} rows, {copied} copied, {omitted} left behind", status=500
            )
