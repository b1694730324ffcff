"""Writing rows to PostgreSQL: flat_table columns or jsonb documents.

Rows arrive validated and cast, so writes are plain parameterised statements (psycopg's
executemany pipelines them) and imports are ``COPY``; modes other than insert COPY into a
temporary table and INSERT ... SELECT ... ON CONFLICT from it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..schema.columnar import ColumnarRows
from ..schema.names import quote_identifier as q
from .base import ProviderError, TableSpec
from .columnar_copy import copy_csv, records_table
from .postgres_ddl import column_type, jsonb_key_expressions, literal
from .postgres_values import document, document_json, native_rows, placeholders, row_values
from .table_shape import jsonb_keys, key_list

MODES = ("insert", "ignore", "replace", "upsert")
STAGING = "_dataservice_import"
# What a statement can be refused for because of the rows it writes.
REFUSALS = (
    psycopg.errors.IntegrityError,
    psycopg.errors.DataError,
    psycopg.errors.CardinalityViolation,
)


def refusal(error: psycopg.Error, what: str) -> ProviderError:
    """A ProviderError saying what PostgreSQL refused, in one line."""
    diag = error.diag
    message = diag.message_primary or str(error).splitlines()[0]
    if diag.message_detail:
        message += f" ({diag.message_detail})"
    return ProviderError(f"PostgreSQL refused {what}: {message}")


def conflict_clause(
    spec: TableSpec, columns: list[str], mode: str, jsonb: bool, jsonb_by_key: bool = False
) -> str:
    """ON CONFLICT for ``mode``: ignore skips any conflict; replace and upsert overwrite the
    row holding the primary key (jsonb: the document id, or the schema's primary key when
    no row names an id) with every column."""
    if mode == "insert":
        return ""
    if mode == "ignore":
        return " ON CONFLICT DO NOTHING"
    if jsonb:
        keys = jsonb_keys(spec)
        target = jsonb_key_expressions(keys[0]) if jsonb_by_key and keys else "id"
        return f" ON CONFLICT ({target}) DO UPDATE SET data = EXCLUDED.data"
    keys = jsonb_keys(spec)  # the primary key first, then unique fields and uniqueKeys
    if not keys:
        if mode == "upsert":
            raise ProviderError("PostgreSQL refused the rows: upsert needs a primary key")
        return ""
    updates = [c for c in columns if c not in keys[0]]
    if not updates:
        return " ON CONFLICT DO NOTHING"
    assignments = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in updates)
    return f" ON CONFLICT ({', '.join(q(c) for c in keys[0])}) DO UPDATE SET {assignments}"


def by_key(spec: TableSpec, rows: list[dict[str, Any]], mode: str) -> bool:
    """Whether a jsonb replace/upsert finds its document by the schema's primary key."""
    return (
        mode in ("replace", "upsert")
        and bool(key_list(spec.schema.get("primaryKey")))
        and all(r.get("_id") is None for r in rows)
    )


async def _sequence(conn: psycopg.AsyncConnection, table: str) -> str:
    cursor = await conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    return (await cursor.fetchone())[0]


def _explicit_ids(rows: list[dict[str, Any]]) -> list[int]:
    ids = []
    for row in rows:
        try:
            ids.append(int(row["_id"]))
        except (KeyError, TypeError, ValueError):
            continue
    return ids


async def _reserve_ids(conn: psycopg.AsyncConnection, sequence: str, rows: list[dict]) -> None:
    """Move the id sequence past the ids rows name, so later documents never take them
    (SQLite's rowid is max(id) + 1; an identity sequence must be told)."""
    ids = _explicit_ids(rows)
    if ids and max(ids) > 0:
        await conn.execute(
            "SELECT setval(%s::regclass, %s)"
            " WHERE %s > coalesce(pg_sequence_last_value(%s::regclass), 0)",
            [sequence, max(ids), max(ids), sequence],
        )


async def write_flat(
    conn: psycopg.AsyncConnection,
    spec: TableSpec,
    table: str,
    rows: list[dict[str, Any]],
    mode: str,
    returning: bool,
) -> list[dict[str, Any]] | None:
    """Write validated rows; the stored rows, as JSON-native values, when ``returning``."""
    fields = spec.fields
    columns = [f["name"] for f in fields]
    sql = (
        f"INSERT INTO {table} ({', '.join(q(c) for c in columns)})"
        f" VALUES ({placeholders(len(columns))})"
        + conflict_clause(spec, columns, mode, jsonb=False)
    )
    values = row_values(fields, rows)
    async with psycopg.AsyncRawCursor(conn) as cursor:  # $n: names may hold a "%"
        if not returning:
            await cursor.executemany(sql, values)
            return None
        sql += f" RETURNING {', '.join(q(c) for c in columns)}"
        await cursor.executemany(sql, values, returning=True)
        stored = []
        async for result in cursor.results():
            stored += await result.fetchall()
    return [dict(zip(columns, row, strict=True)) for row in native_rows(fields, stored)]


async def write_documents(
    conn: psycopg.AsyncConnection,
    spec: TableSpec,
    table: str,
    rows: list[dict[str, Any]],
    mode: str,
    returning: bool,
) -> list[dict[str, Any]] | None:
    """Store each validated row as one document; ``_id`` picks the document id. Returned
    rows are the physical ones, ``{"id", "data": <JSON text>}``, as the SQLite provider
    (and Datasette core) return them."""
    sequence = await _sequence(conn, table)
    await _reserve_ids(conn, sequence, rows)
    sql = (
        f"INSERT INTO {table} (id, data) VALUES"
        f" (coalesce($1::bigint, nextval({literal(sequence)}::regclass)), $2)"
        + conflict_clause(spec, ["id", "data"], mode, True, by_key(spec, rows, mode))
    )
    values = [(row.get("_id"), Jsonb(document(row))) for row in rows]
    async with psycopg.AsyncRawCursor(conn) as cursor:
        if not returning:
            await cursor.executemany(sql, values)
            return None
        await cursor.executemany(sql + " RETURNING id", values, returning=True)
        stored = []
        for row in rows:
            result = await cursor.fetchone()
            if result is not None:
                stored.append({"id": result[0], "data": document_json(row)})
            cursor.nextset()
    return stored


async def copy_into(
    conn: psycopg.AsyncConnection, table: str, columns: list[str], values: list | bytes
) -> None:
    """COPY rows (value lists), or CSV text made by :func:`.columnar_copy.copy_csv`."""
    async with conn.cursor() as cursor:
        columns_sql = ", ".join(q(c) for c in columns)
        if isinstance(values, bytes):
            sql = f"COPY {table} ({columns_sql}) FROM STDIN (FORMAT csv)"
            async with cursor.copy(sql) as copy:
                await copy.write(values)
            return
        async with cursor.copy(f"COPY {table} ({columns_sql}) FROM STDIN") as copy:
            await copy.write(copy_text(copy, values))


def copy_text(copy: psycopg.AsyncCopy, values: list) -> bytes:
    """Every row formatted as COPY text in one buffer, by psycopg's own (C) row formatter:
    the same bytes ``write_row`` sends, without awaiting a coroutine per row. The formatter
    hands back its buffer each time it passes 32 kB; what stays in it is sent by psycopg
    when the COPY ends, after the buffer this returns."""
    write_row = copy.formatter.write_row
    return b"".join([chunk for row in values if (chunk := write_row(row))])


class Importer:
    """Writes import batches inside the caller's transaction: COPY straight into the table
    for inserts, through a temporary staging table for the other modes."""

    def __init__(self, conn: psycopg.AsyncConnection, spec: TableSpec, table: str, mode: str):
        self.conn, self.spec, self.table, self.mode = conn, spec, table, mode
        self.jsonb = False
        self.sequence: str | None = None

    async def prepare(self, jsonb: bool) -> None:
        self.jsonb = jsonb
        if jsonb:
            self.sequence = await _sequence(self.conn, self.table)
        if self.mode == "insert":
            return
        if jsonb:
            columns = "id BIGINT, data JSONB"
        else:
            columns = ", ".join(f"{q(f['name'])} {column_type(f)}" for f in self.spec.fields)
        conflict_clause(self.spec, self._columns(), self.mode, jsonb)  # refuse early
        await self.conn.execute(f"CREATE TEMP TABLE {STAGING} ({columns}) ON COMMIT DROP")

    def _columns(self) -> list[str]:
        return ["id", "data"] if self.jsonb else [f["name"] for f in self.spec.fields]

    def values(self, rows: list[dict[str, Any]]) -> list[list[Any]] | bytes:
        """A batch as COPY rows, or as CSV text for the columnar fast path's batches: CPU
        work, which import_batches does in a worker thread."""
        if self.jsonb:
            return [[row.get("_id"), json.dumps(document(row))] for row in rows]
        if isinstance(rows, ColumnarRows):
            text = copy_csv(self.spec.fields, rows)
            if text is not None:
                return text
            rows = list(rows)
        elif rows and (table := records_table(self.spec.fields, rows)) is not None:
            text = copy_csv(self.spec.fields, table)  # JSON imports' records, by Arrow
            if text is not None:
                return text
        return row_values(self.spec.fields, rows, copy=True)

    async def write(
        self, rows: list[dict[str, Any]], values: list[list] | bytes | None = None
    ) -> None:
        if values is None:
            values = self.values(rows)
        if self.jsonb:
            await _reserve_ids(self.conn, self.sequence, rows)
            if self.mode == "insert" and all(v[0] is None for v in values):
                await copy_into(self.conn, self.table, ["data"], [v[1:] for v in values])
                return
            if self.mode == "insert":  # ids for the rows naming none, in row order
                missing = [v for v in values if v[0] is None]
                cursor = await self.conn.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
                    [self.sequence, len(missing)],
                )
                for v, (new_id,) in zip(missing, sorted(await cursor.fetchall()), strict=True):
                    v[0] = new_id
                await copy_into(self.conn, self.table, ["id", "data"], values)
                return
        columns = self._columns()
        if self.mode == "insert" and not self.jsonb:
            await copy_into(self.conn, self.table, columns, values)
            return
        await self.conn.execute(f"TRUNCATE {STAGING}")
        await copy_into(self.conn, STAGING, columns, values)
        select = ", ".join(q(c) for c in columns)
        if self.jsonb:
            select = f"coalesce(id, nextval({literal(self.sequence)}::regclass)), data"
        clause = conflict_clause(
            self.spec, columns, self.mode, self.jsonb, by_key(self.spec, rows, self.mode)
        )
        await self.conn.execute(
            f"INSERT INTO {self.table} ({', '.join(q(c) for c in columns)})"
            f" SELECT {select} FROM {STAGING}{clause}"
        )

    async def run(
        self,
        iterator: Iterator[tuple[list[dict[str, Any]], list[int]]],
        skip: bool,
        on_refused: Callable[[list[int]], None],
    ) -> None:
        """Write every batch ``iterator`` yields. It blocks while the upload streams in (the
        event loop feeds it), so it is pulled from a worker thread, never on the loop."""
        if not skip:
            await self._run_pipelined(iterator)
            return
        while (batch := await asyncio.to_thread(next, iterator, None)) is not None:
            rows, numbers = batch
            refused = await self.write_skipping(rows) if rows else []
            if refused:
                on_refused([numbers[i] for i in refused])

    async def _run_pipelined(self, iterator: Iterator) -> None:
        """Read and convert batch N + 1 in a worker thread while batch N is COPYed, so the
        conversion overlaps the server's work. (Only without skip: on_refused updates the
        importer's status, which must not race the thread running its generator.)"""

        def pull() -> tuple[list[dict[str, Any]], list[list[Any]]] | None:
            batch = next(iterator, None)
            return None if batch is None else (batch[0], self.values(batch[0]))

        pending = asyncio.ensure_future(asyncio.to_thread(pull))
        try:
            while (batch := await pending) is not None:
                pending = asyncio.ensure_future(asyncio.to_thread(pull))
                if batch[0]:
                    await self.write(*batch)
        finally:
            # A failed write must not leave the generator running in a thread: the upload
            # keeps streaming until this coroutine ends, so the pull in flight finishes.
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # retrieved: the write's own error is the one that counts

    async def write_skipping(self, rows: list[dict[str, Any]]) -> list[int]:
        """Write the rows PostgreSQL accepts; the positions of those it refuses. A batch
        that fails is halved (each half under its own savepoint) down to single rows."""
        refused: list[int] = []

        async def attempt(start: int, part: list[dict[str, Any]]) -> None:
            try:
                async with self.conn.transaction():
                    await self.write(part)
            except (psycopg.errors.IntegrityError, psycopg.errors.CardinalityViolation):
                if len(part) == 1:
                    refused.append(start)
                    return
                middle = len(part) // 2
                await attempt(start, part[:middle])
                await attempt(start + middle, part[middle:])

        await attempt(0, rows)
        return refused
