"""flat_table and jsonb on SQLite: each datasource is one SQLite file attached to Datasette."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from datasette.database import Database

from ..schema.names import quote_identifier as q
from . import sqlite_trash
from .base import (
    SCAN_BATCH,
    MigrationPlan,
    Provider,
    ProviderError,
    TableSpec,
    column_limit_problems,
)
from .sqlite_ddl import flat_table_sql, jsonb_sql, jsonb_view_sql
from .sqlite_migrate import plan_flat_table, plan_jsonb, run_in_place, run_rebuild
from .sqlite_rows import (
    all_keys,
    existing_values,
    rows_by_key,
    select_by_rowid,
    write_batch,
    write_documents,
    write_flat,
)
from .sqlite_values import to_native, to_storage
from .table_shape import document_values, jsonb_view_name, key_list

MAX_COLUMNS = 2000  # SQLITE_MAX_COLUMN, of a table or view


class SQLiteProvider(Provider):
    engine = "sqlite"

    def __init__(self, database: Database):
        self.database = database

    def limit_problems(self, spec: TableSpec) -> list[str]:
        return column_limit_problems(spec, "SQLite", MAX_COLUMNS)

    async def materialize(self, spec: TableSpec) -> list[str]:
        return await self._run(self.create_sql(spec), must_be_free=spec.physical_name)

    async def drop(self, physical_name: str) -> list[str]:
        return await self._run(self.drop_sql(physical_name))

    async def rename(self, spec: TableSpec, new_physical_name: str) -> list[str]:
        renamed = TableSpec(new_physical_name, spec.schema, spec.resolve_reference, spec.aliases)
        statements = [
            statement
            for statement in self.drop_sql(spec.physical_name)
            if statement.startswith("DROP VIEW")
        ]
        statements.append(f"ALTER TABLE {q(spec.physical_name)} RENAME TO {q(new_physical_name)}")
        statements += [s for s in self.create_sql(renamed) if s.startswith("CREATE VIEW")]
        return await self._run(statements, must_be_free=new_physical_name)

    def _names(self, spec: TableSpec) -> list[str]:
        """The table first, then the resource serving it (jsonb: its view)."""
        return list(dict.fromkeys([spec.physical_name, self.data_resource(spec.physical_name)]))

    async def hide(self, spec: TableSpec) -> list[str]:
        path, names = self.database.path, self._names(spec)
        return await self._move(
            lambda conn: sqlite_trash.hide(conn, path, spec.physical_name, names)
        )

    async def unhide(self, spec: TableSpec) -> list[str]:
        path, names = self.database.path, self._names(spec)

        def unhide(conn: sqlite3.Connection) -> list[str]:
            if sqlite_trash.names_present(conn, "main", names):
                raise ProviderError(
                    f'database "{self.database.name}" already has a table or view named '
                    f'"{spec.physical_name}"; rename or drop it first'
                )
            return sqlite_trash.unhide(conn, path, spec.physical_name, names)

        return await self._move(unhide)

    async def placement(self, spec: TableSpec) -> set[str]:
        path, names = self.database.path, self._names(spec)
        return await self.database.execute_write_fn(
            lambda conn: sqlite_trash.placement(conn, path, names), transaction=False
        )

    async def drop_hidden(self, spec: TableSpec) -> list[str]:
        path, names = self.database.path, self._names(spec)
        await self._move(lambda conn: sqlite_trash.drop_hidden(conn, path, names))
        return [f"DROP TABLE {sqlite_trash.TRASH}.{q(spec.physical_name)}"]

    async def _move(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run a move between the served and the trash file on the write connection, then
        refresh Datasette's catalog of tables (it would otherwise lag up to a second)."""
        try:
            result = await self.database.execute_write_fn(work, transaction=False)
        except sqlite3.IntegrityError as error:
            raise ProviderError(
                f"SQLite refused the restore: {error}; its rows reference rows that are gone"
            ) from error
        except sqlite3.Error as error:
            raise ProviderError(f"SQLite refused the change: {error}") from error
        await self.database.ds.refresh_schemas(force=True)
        return result

    async def _run(self, statements: list[str], must_be_free: str | None = None) -> list[str]:
        """Run ``statements`` in one write transaction, refusing to overwrite a name in use."""

        def run(conn: sqlite3.Connection) -> None:
            if must_be_free:
                for name in {must_be_free, self.data_resource(must_be_free)}:
                    if conn.execute(
                        "SELECT 1 FROM sqlite_master WHERE lower(name) = lower(?)", (name,)
                    ).fetchone():
                        raise ProviderError(
                            f'database "{self.database.name}" already has a table or view '
                            f'named "{name}"'
                        )
            for statement in statements:
                conn.execute(statement)

        try:
            await self.database.execute_write_fn(run)
        except sqlite3.Error as error:  # e.g. more columns than SQLite allows
            raise ProviderError(f"SQLite refused the change: {error}") from error
        return statements

    async def migrate(
        self,
        old: TableSpec,
        new: TableSpec,
        plan: MigrationPlan,
        cast: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> int:
        if plan.rebuild:

            def rebuild(conn: sqlite3.Connection) -> int:
                return run_rebuild(conn, old, new, plan, cast)

            work, transaction = rebuild, False
        else:

            def in_place(conn: sqlite3.Connection) -> int:
                return run_in_place(conn, plan)

            work, transaction = in_place, True
        try:
            return await self.database.execute_write_fn(work, transaction=transaction)
        except sqlite3.Error as error:
            raise ProviderError(f"SQLite refused the change: {error}") from error

    async def _stored_sql(self, name: str) -> str | None:
        result = await self.database.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name])
        row = result.first()
        return row[0] if row else None

    async def write_rows(
        self, spec: TableSpec, rows: list[dict[str, Any]], mode: str, returning: bool
    ) -> list[dict[str, Any]] | None:
        write = write_documents if self.provider_type == "jsonb" else write_flat

        def run(conn: sqlite3.Connection):
            # Foreign keys are checked at commit, so a row may point at a later one.
            conn.execute("PRAGMA defer_foreign_keys = ON")
            rowids = write(conn, spec, rows, mode, returning)
            return None if rowids is None else select_by_rowid(conn, spec.physical_name, rowids)

        try:
            return await self.database.execute_write_fn(run)
        except sqlite3.IntegrityError as error:
            raise ProviderError(f"SQLite refused the rows: {error}") from error

    async def import_batches(
        self,
        spec: TableSpec,
        batches: Iterator[tuple[list[dict[str, Any]], list[int]]],
        mode: str,
        skip: bool,
        on_refused: Callable[[list[int]], None],
    ) -> None:
        """Write every batch in ONE transaction: an import lands whole or not at all.

        ``batches`` yields (rows, row numbers) and may block while the upload streams in;
        with ``skip``, rows the engine refuses are reported through ``on_refused``.
        """
        write = write_documents if self.provider_type == "jsonb" else write_flat

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for rows, numbers in batches:
                refused = write_batch(conn, write, spec, rows, mode, skip)
                if refused:
                    on_refused([numbers[i] for i in refused])

        try:
            await self.database.execute_write_fn(run)
        except sqlite3.IntegrityError as error:
            raise ProviderError(f"SQLite refused the rows: {error}") from error

    async def update_row(self, spec: TableSpec, key: dict[str, Any], row: dict[str, Any]) -> None:
        """Replace one stored row (found by ``key``) with the validated ``row``."""
        if self.provider_type == "jsonb":
            document = json.dumps({k: v for k, v in row.items() if k != "_id"}, ensure_ascii=False)
            sql = f"UPDATE {q(spec.physical_name)} SET data = ? WHERE id = ?"
            params = [document, key["_id"]]
        else:
            by_name = {f["name"]: f for f in spec.fields}
            assignments = ", ".join(f"{q(n)} = ?" for n in by_name)
            where = " AND ".join(f"{q(c)} = ?" for c in key)
            sql = f"UPDATE {q(spec.physical_name)} SET {assignments} WHERE {where}"
            params = [to_storage(row.get(n), f) for n, f in by_name.items()] + list(key.values())
        try:
            await self.database.execute_write_fn(lambda conn: conn.execute(sql, params))
        except sqlite3.IntegrityError as error:
            raise ProviderError(f"SQLite refused the row: {error}") from error

    async def delete_row(self, spec: TableSpec, key: dict[str, Any]) -> bool:
        """Delete the row ``key`` names (jsonb: ``{"_id": id}``); whether one was deleted."""
        if self.provider_type == "jsonb":
            key = {"id": key.get("_id", key.get("id"))}
        where = " AND ".join(f"{q(c)} = ?" for c in key)
        sql = f"DELETE FROM {q(spec.physical_name)} WHERE {where}"
        try:
            cursor = await self.database.execute_write_fn(
                lambda conn: conn.execute(sql, list(key.values()))
            )
        except sqlite3.IntegrityError as error:
            raise ProviderError(f"SQLite refused the deletion: {error}") from error
        return cursor.rowcount > 0

    async def existing_values(
        self,
        spec: TableSpec,
        columns: tuple[str, ...],
        candidates: list[Any],
        owner: list[str] | None = None,
    ) -> dict[Any, tuple | None]:
        source = self.data_resource(spec.physical_name)
        return await self.database.execute_fn(
            lambda conn: existing_values(conn, source, columns, candidates, owner)
        )

    async def all_keys(self, spec: TableSpec, columns: tuple[str, ...]) -> set[tuple]:
        source = self.data_resource(spec.physical_name)
        return await self.database.execute_fn(lambda conn: all_keys(conn, source, columns))

    async def rows_by_key(
        self, spec: TableSpec, key: list[str], keys: list[tuple]
    ) -> dict[tuple, dict[str, Any]]:
        source = self.data_resource(spec.physical_name)
        return await self.database.execute_fn(
            lambda conn: rows_by_key(conn, spec, source, key, keys)
        )

    async def read_pages(
        self, spec: TableSpec, names: list[str], page_rows: int
    ) -> AsyncIterator[list[list[Any]]]:
        """Stored rows as JSON-native values in ``names`` order, a page at a time, in
        insertion order (keyset on the rowid, or the document id)."""
        jsonb = self.provider_type == "jsonb"
        taken = {n.lower() for n in names}
        rowid = "id" if jsonb else next(c for c in ("rowid", "_rowid_", "oid") if c not in taken)
        columns = "data" if jsonb else ", ".join(q(n) for n in names)
        select = f"SELECT {rowid}, {columns} FROM {q(spec.physical_name)}"
        order = f" ORDER BY {rowid} LIMIT {int(page_rows)}"
        by_name = {f["name"]: f for f in spec.fields}
        last = None
        while True:
            sql, params = (
                (select + order, [])
                if last is None
                else (select + f" WHERE {rowid} > ?" + order, [last])
            )
            page = await self.database.execute_fn(
                lambda conn, sql=sql, params=params: conn.execute(sql, params).fetchall()
            )
            if not page:
                return
            last = page[-1][0]
            if jsonb:
                yield [document_values(json.loads(row[1]), names, spec.aliases) for row in page]
            else:
                yield [
                    [to_native(v, by_name[n]) for n, v in zip(names, row[1:], strict=True)]
                    for row in page
                ]

    async def count_rows(self, physical_name: str) -> int | None:
        if not await self.database.table_exists(physical_name):
            return None
        result = await self.database.execute(f"SELECT count(*) FROM {q(physical_name)}")
        return result.first()[0]


class SQLiteFlatTable(SQLiteProvider):
    provider_type = "flat_table"

    @classmethod
    def data_resource(cls, physical_name: str) -> str:
        return physical_name

    def create_sql(self, spec: TableSpec) -> list[str]:
        return [flat_table_sql(spec)]

    def drop_sql(self, physical_name: str) -> list[str]:
        return [f"DROP TABLE IF EXISTS {q(physical_name)}"]

    def plan_migration(self, old: TableSpec, new: TableSpec, operations: list) -> MigrationPlan:
        return plan_flat_table(old, new, operations)

    async def has_schema(self, spec: TableSpec, rebuilt: bool) -> bool:
        """A rebuild leaves exactly our CREATE TABLE; in-place ALTERs leave the new columns."""
        if await self._stored_sql(spec.physical_name) == flat_table_sql(spec):
            return True
        if rebuilt:
            return False
        columns = await self.database.table_columns(spec.physical_name)
        return sorted(columns) == sorted(f["name"] for f in spec.fields)

    async def read_records(
        self, spec: TableSpec, fields: list[str], deadline: float | None = None
    ) -> tuple[list[tuple[Any, dict]], bool]:
        by_name = {f["name"]: f for f in spec.fields}
        primary_key = key_list(spec.schema.get("primaryKey"))
        key_columns = [q(n) for n in primary_key] or ["rowid"]
        select = ", ".join([*key_columns, *(q(n) for n in fields)])
        width = len(key_columns)

        def record(row: tuple) -> tuple[Any, dict]:
            values = zip(fields, row[width:], strict=True)
            key = row[0] if width == 1 else list(row[:width])
            return key, {n: to_native(v, by_name[n]) for n, v in values}

        sql = f"SELECT {select} FROM {q(spec.physical_name)}"
        return await self.database.execute_fn(lambda conn: scan(conn, sql, record, deadline))


class SQLiteJsonb(SQLiteProvider):
    provider_type = "jsonb"

    @classmethod
    def data_resource(cls, physical_name: str) -> str:
        return jsonb_view_name(physical_name)

    def create_sql(self, spec: TableSpec) -> list[str]:
        return jsonb_sql(spec)

    def drop_sql(self, physical_name: str) -> list[str]:
        return [
            f"DROP VIEW IF EXISTS {q(jsonb_view_name(physical_name))}",
            f"DROP TABLE IF EXISTS {q(physical_name)}",
        ]

    def plan_migration(self, old: TableSpec, new: TableSpec, operations: list) -> MigrationPlan:
        return plan_jsonb(old, new, operations)

    async def has_schema(self, spec: TableSpec, rebuilt: bool) -> bool:
        view = jsonb_view_name(spec.physical_name)
        return await self._stored_sql(view) == jsonb_view_sql(spec)

    async def refresh_views(self, spec: TableSpec) -> list[str]:
        view = jsonb_view_name(spec.physical_name)
        stored = await self._stored_sql(view)
        if stored is None or stored == jsonb_view_sql(spec):
            return []
        return await self._run([f"DROP VIEW {q(view)}", jsonb_view_sql(spec)])

    async def read_records(
        self, spec: TableSpec, fields: list[str], deadline: float | None = None
    ) -> tuple[list[tuple[Any, dict]], bool]:
        """Documents as written; a renamed field is read under any of its earlier names."""

        def record(row: tuple) -> tuple[Any, dict]:
            values = document_values(json.loads(row[1]), fields, spec.aliases)
            return row[0], dict(zip(fields, values, strict=True))

        sql = f"SELECT id, data FROM {q(spec.physical_name)}"
        return await self.database.execute_fn(lambda conn: scan(conn, sql, record, deadline))


def scan(
    conn: sqlite3.Connection, sql: str, record: Callable[[tuple], Any], deadline: float | None
) -> tuple[list, bool]:
    """``record`` of each row ``sql`` returns, in the worker thread, until ``deadline``;
    and whether every row was read."""
    cursor = conn.execute(sql)
    records = []
    while batch := cursor.fetchmany(SCAN_BATCH):
        records += map(record, batch)
        if deadline is not None and time.monotonic() > deadline:
            return records, cursor.fetchone() is None
    return records, True
