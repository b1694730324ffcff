"""What flat_table and jsonb on PostgreSQL share: each datasource is one schema of a named
connection (the two kinds of table are in ``providers.postgres_tables``).

The same provider interface, modes and semantics as the SQLite providers; every unit of
work is one transaction on a pooled autocommit connection (``PostgresTarget.connect``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..schema.names import quote_identifier as q
from . import postgres_trash
from .base import (
    SCAN_BATCH,
    MigrationPlan,
    Provider,
    ProviderError,
    TableSpec,
    column_limit_problems,
)
from .postgres_ddl import (
    check_identifiers,
    column_type,
    identifier_problems,
    identifiers_of,
    rowid_column,
    table_name,
)
from .postgres_isolation import ensure_reader_role
from .postgres_migrate import (
    PROBE,
    dependent_renames,
    probe_shapes,
    run_in_place,
    run_rebuild,
)
from .postgres_rows import MODES, REFUSALS, Importer, refusal, write_documents, write_flat
from .postgres_storage import PostgresTarget
from .postgres_values import (
    all_keys,
    candidate_text,
    document,
    existing_values,
    native_rows,
    rows_by_key,
    to_param,
)
from .table_shape import document_values, field_type, key_list

MAX_COLUMNS = 1600  # of a table or view
COPY_FROM_ROWS = 50  # below this, pipelined INSERTs cost less than setting up a COPY


class PostgresProvider(Provider):
    engine = "postgres"

    def __init__(self, target: PostgresTarget):
        self.target = target

    @property
    def jsonb(self) -> bool:
        return self.provider_type == "jsonb"

    def table(self, physical_name: str) -> str:
        """The schema-qualified, quoted name of a physical table (or view)."""
        return table_name(self.target.schema, physical_name)

    def limit_problems(self, spec: TableSpec) -> list[str]:
        return [
            *column_limit_problems(spec, "PostgreSQL", MAX_COLUMNS),
            *identifier_problems(identifiers_of(spec, self.target.schema, self.jsonb)),
        ]

    # Tables -------------------------------------------------------------------------------

    async def materialize(self, spec: TableSpec) -> list[str]:
        check_identifiers(identifiers_of(spec, self.target.schema, self.jsonb))

        async def reader(conn: psycopg.AsyncConnection) -> list[str]:
            await ensure_reader_role(conn, self.target.schema)
            return []

        return await self._run(self.create_sql(spec), must_be_free=spec.physical_name, then=reader)

    async def drop(self, physical_name: str) -> list[str]:
        return await self._run(self.drop_sql(physical_name))

    async def rename(self, spec: TableSpec, new_physical_name: str) -> list[str]:
        renamed = TableSpec(new_physical_name, spec.schema, spec.resolve_reference, spec.aliases)
        check_identifiers(identifiers_of(renamed, self.target.schema, self.jsonb))
        statements = [s for s in self.drop_sql(spec.physical_name) if s.startswith("DROP VIEW")]
        statements.append(
            f"ALTER TABLE {self.table(spec.physical_name)} RENAME TO {q(new_physical_name)}"
        )

        async def rename_dependents(conn: psycopg.AsyncConnection) -> list[str]:
            return await dependent_renames(
                conn, self.target.schema, spec.physical_name, new_physical_name
            )

        views = [s for s in self.create_sql(renamed) if s.startswith("CREATE VIEW")]
        return await self._run(
            statements, must_be_free=new_physical_name, then=rename_dependents, last=views
        )

    def _view(self, physical_name: str) -> str | None:
        resource = self.data_resource(physical_name)
        return None if resource == physical_name else resource

    async def hide(self, spec: TableSpec) -> list[str]:
        return await self._in_trash(postgres_trash.hide, spec.physical_name)

    async def unhide(self, spec: TableSpec) -> list[str]:
        return await self._in_trash(postgres_trash.unhide, spec.physical_name)

    async def drop_hidden(self, spec: TableSpec) -> list[str]:
        return await self._in_trash(postgres_trash.drop_hidden, spec.physical_name)

    async def placement(self, spec: TableSpec) -> set[str]:
        async with self.target.connect() as conn:
            return await postgres_trash.placement(conn, self.target.schema, spec.physical_name)

    async def _in_trash(self, move, physical_name: str) -> list[str]:
        """Run one move between the served and the trash schema in one transaction."""
        try:
            async with self.target.connect() as conn, conn.transaction():
                return await move(
                    conn, self.target.schema, physical_name, self._view(physical_name)
                )
        except psycopg.Error as error:
            raise refusal(error, "the change") from error

    async def _run(
        self,
        statements: list[str],
        must_be_free: str | None = None,
        then: Callable[[psycopg.AsyncConnection], Any] | None = None,
        last: list[str] = (),
    ) -> list[str]:
        """Run ``statements`` (then ``then``'s, then ``last``) in one transaction, refusing
        to take a name already in use; the statements run."""
        ran = list(statements)
        try:
            async with self.target.connect() as conn, conn.transaction():
                if must_be_free:
                    await self._ensure_free(conn, must_be_free)
                for statement in statements:
                    await conn.execute(statement)
                if then is not None:
                    ran += await then(conn)
                for statement in last:
                    await conn.execute(statement)
                    ran.append(statement)
        except psycopg.Error as error:
            raise refusal(error, "the change") from error
        return ran

    async def _ensure_free(self, conn: psycopg.AsyncConnection, name: str) -> None:
        """Refuse a name in use (case-insensitively, as the SQLite provider does). A lock on
        the schema's name serialises the check and CREATE SCHEMA IF NOT EXISTS, which two
        concurrent transactions could otherwise both attempt. (Its key shows in pg_locks to
        every session on the server, so it hashes the random database name with it.)"""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"{self.target.database}.{self.target.schema}"],
        )
        names = sorted({name.lower(), self.data_resource(name).lower()})
        cursor = await conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND lower(c.relname) = ANY(%s) ORDER BY 1",
            [self.target.schema, names],
        )
        taken = await cursor.fetchone()
        if taken:
            raise ProviderError(
                f'database "{self.target.database_name}" already has a table or view named '
                f'"{taken[0]}"'
            )

    async def migrate(
        self,
        old: TableSpec,
        new: TableSpec,
        plan: MigrationPlan,
        cast: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> int:
        check_identifiers(identifiers_of(new, self.target.schema, self.jsonb))
        try:
            async with self.target.connect() as conn, conn.transaction():
                if plan.rebuild:
                    return await run_rebuild(conn, old, new, plan, cast, self.target.schema)
                return await run_in_place(conn, plan)
        except psycopg.Error as error:
            raise refusal(error, "the change") from error

    # Rows ---------------------------------------------------------------------------------

    async def write_rows(
        self, spec: TableSpec, rows: list[dict[str, Any]], mode: str, returning: bool
    ) -> list[dict[str, Any]] | None:
        if mode not in MODES:
            raise ProviderError(f'unknown write mode "{mode}"')
        if not rows:
            return [] if returning else None
        write = write_documents if self.jsonb else write_flat
        table = self.table(spec.physical_name)
        try:
            async with self.target.connect() as conn, conn.transaction():
                if not returning and len(rows) >= COPY_FROM_ROWS:
                    # COPY (through a staging table for modes other than insert) writes a
                    # batch several times faster than one INSERT per row.
                    importer = Importer(conn, spec, table, mode)
                    await importer.prepare(self.jsonb)
                    await importer.write(rows)
                    return None
                return await write(conn, spec, table, rows, mode, returning)
        except REFUSALS as error:
            raise refusal(error, "the rows") from error

    async def import_batches(
        self,
        spec: TableSpec,
        batches: Iterator[tuple[list[dict[str, Any]], list[int]]],
        mode: str,
        skip: bool,
        on_refused: Callable[[list[int]], None],
    ) -> None:
        """Write every batch in ONE transaction: an import lands whole or not at all.

        ``batches`` blocks while the upload streams in (the event loop feeds it), so it is
        pulled from a worker thread; with ``skip``, rows PostgreSQL refuses are reported
        through ``on_refused`` and the rest written.
        """
        if mode not in MODES:
            raise ProviderError(f'unknown write mode "{mode}"')
        iterator = iter(batches)
        try:
            async with self.target.connect() as conn, conn.transaction():
                importer = Importer(conn, spec, self.table(spec.physical_name), mode)
                await importer.prepare(self.jsonb)
                await importer.run(iterator, skip, on_refused)
        except REFUSALS as error:
            raise refusal(error, "the rows") from error

    def _where(self, spec: TableSpec, key: dict[str, Any], first: int = 1) -> tuple[str, list]:
        """WHERE for the row ``key`` names; values go as text (from ``$first`` on), cast to
        the column's type."""
        by_name = {f["name"]: f for f in spec.fields}
        parts = []
        for n, column in enumerate(key, start=first):
            if self.jsonb:
                parts.append(f"id = ${n}::bigint")
            elif column in by_name:
                parts.append(f"{q(column)} = ${n}::{column_type(by_name[column])}")
            else:  # the rowid of a table without a primary key
                parts.append(f"{q(column)} = ${n}::bigint")
        return " AND ".join(parts), [candidate_text(v) for v in key.values()]

    async def _execute(self, sql: str, params: list, what: str) -> int:
        """Run one statement in its own transaction on a raw cursor ($n parameters, so a
        "%" in a name is left alone); the rows it touched."""
        try:
            async with (
                self.target.connect() as conn,
                conn.transaction(),
                psycopg.AsyncRawCursor(conn) as cursor,
            ):
                await cursor.execute(sql, params)
                return cursor.rowcount
        except REFUSALS as error:
            raise refusal(error, what) from error

    async def update_row(self, spec: TableSpec, key: dict[str, Any], row: dict[str, Any]) -> None:
        """Replace one stored row (found by ``key``) with the validated ``row``."""
        table = self.table(spec.physical_name)
        if self.jsonb:
            key = {"_id": key.get("_id", key.get("id"))}
            assignments, params = "data = $1", [Jsonb(document(row))]
        else:
            assignments = ", ".join(f"{q(f['name'])} = ${n}" for n, f in enumerate(spec.fields, 1))
            params = [to_param(row.get(f["name"]), f) for f in spec.fields]
        where, key_params = self._where(spec, key, first=len(params) + 1)
        await self._execute(
            f"UPDATE {table} SET {assignments} WHERE {where}", params + key_params, "the row"
        )

    async def delete_row(self, spec: TableSpec, key: dict[str, Any]) -> bool:
        """Delete the row ``key`` names (jsonb: ``{"_id": id}`` or ``{"id": id}``); whether
        one was deleted. A key that cannot be a stored value deletes nothing."""
        if self.jsonb:
            key = {"_id": key.get("_id", key.get("id"))}
        where, params = self._where(spec, key)
        sql = f"DELETE FROM {self.table(spec.physical_name)} WHERE {where}"
        try:
            return await self._execute(sql, params, "the deletion") > 0
        except ProviderError as error:
            if isinstance(error.__cause__, psycopg.errors.DataError):
                return False
            raise

    async def existing_values(
        self,
        spec: TableSpec,
        columns: tuple[str, ...],
        candidates: list[Any],
        owner: list[str] | None = None,
    ) -> dict[Any, tuple | None]:
        table = self.table(spec.physical_name)
        async with self.target.connect() as conn:
            return await existing_values(conn, spec, table, self.jsonb, columns, candidates, owner)

    async def all_keys(self, spec: TableSpec, columns: tuple[str, ...]) -> set[tuple]:
        async with self.target.connect() as conn:
            return await all_keys(conn, spec, self.table(spec.physical_name), self.jsonb, columns)

    async def rows_by_key(
        self, spec: TableSpec, key: list[str], keys: list[tuple]
    ) -> dict[tuple, dict[str, Any]]:
        table = self.table(spec.physical_name)
        async with self.target.connect() as conn:
            return await rows_by_key(conn, spec, table, self.jsonb, key, keys)

    async def read_pages(
        self, spec: TableSpec, names: list[str], page_rows: int
    ) -> AsyncIterator[list[list[Any]]]:
        """Stored rows as JSON-native values in ``names`` order, a page at a time, from one
        snapshot (a server-side cursor). jsonb and tables keyed by one integer come in key
        order, as SQLite's rowid gives them; other tables in storage order, which is
        insertion order until rows are updated."""
        table = self.table(spec.physical_name)
        by_name = {f["name"]: f for f in spec.fields}
        if self.jsonb:
            sql = f"SELECT data FROM {table} ORDER BY id"
        else:
            primary_key = key_list(spec.schema.get("primaryKey"))
            integer_key = len(primary_key) == 1 and field_type(by_name[primary_key[0]]) in {
                "integer",
                "year",
            }
            rowid = rowid_column(spec.schema)
            order = (
                f" ORDER BY {q(primary_key[0])}"
                if integer_key
                else f" ORDER BY {q(rowid)}"
                if rowid
                else ""
            )
            sql = f"SELECT {', '.join(q(n) for n in names)} FROM {table}{order}"
        fields = [by_name[n] for n in names] if not self.jsonb else []
        async with (
            self.target.connect() as conn,
            conn.transaction(),
            conn.cursor(name="_dataservice_pages") as cursor,
        ):
            await cursor.execute(sql)
            while page := await cursor.fetchmany(page_rows):
                if self.jsonb:
                    yield [document_values(row[0], names, spec.aliases) for row in page]
                else:
                    yield native_rows(fields, page)

    async def scan(
        self, sql: str, convert: Callable[[list[tuple]], list], deadline: float | None
    ) -> tuple[list, bool]:
        """``convert`` of each page of rows ``sql`` returns, through a server-side cursor,
        until ``deadline``; and whether every row was read. The time left also bounds each
        statement (statement_timeout), so a slow first page cannot overrun it."""
        records: list = []
        try:
            async with self.target.connect() as conn, conn.transaction():
                if deadline is not None:
                    left = max(1, round((deadline - time.monotonic()) * 1000))
                    await conn.execute(f"SET LOCAL statement_timeout = {left}")
                async with conn.cursor(name="_dataservice_scan") as cursor:
                    await cursor.execute(sql)
                    while page := await cursor.fetchmany(SCAN_BATCH):
                        records += convert(page)
                        if len(page) < SCAN_BATCH:
                            break
                        if deadline is not None and time.monotonic() > deadline:
                            return records, False
        except psycopg.errors.QueryCanceled:
            return records, False
        return records, True

    async def count_rows(self, physical_name: str) -> int | None:
        table = self.table(physical_name)
        async with self.target.connect() as conn:
            cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
            if not (await cursor.fetchone())[0]:
                return None
            cursor = await conn.execute(f"SELECT count(*) FROM {table}")
            return (await cursor.fetchone())[0]

    async def _compare_with_probe(self, describe, live: str, create: str):
        """(live, expected) descriptions for has_schema, or None if either is missing."""
        try:
            async with self.target.connect() as conn:
                return await probe_shapes(conn, describe, live, create, self.table(PROBE))
        except psycopg.Error:
            return None
