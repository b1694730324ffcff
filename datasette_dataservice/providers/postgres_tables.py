"""flat_table and jsonb on PostgreSQL: what differs between the two kinds of table.

What they share (a schema per datasource, transactions, writes, lookups) is
``providers.postgres.PostgresProvider``.
"""

from __future__ import annotations

from typing import Any

from ..schema.names import quote_identifier as q
from .base import MigrationPlan, TableSpec
from .postgres import PostgresProvider
from .postgres_ddl import (
    CATALOG_TYPES,
    column_type,
    flat_table_sql,
    jsonb_sql,
    jsonb_view_sql,
    rowid_column,
)
from .postgres_migrate import (
    PROBE,
    plan_flat_table,
    plan_jsonb,
    table_shape,
    view_definition,
)
from .postgres_values import native_rows
from .table_shape import document_values, jsonb_view_name, key_list


class PostgresFlatTable(PostgresProvider):
    provider_type = "flat_table"

    @classmethod
    def data_resource(cls, physical_name: str) -> str:
        return physical_name

    def create_sql(self, spec: TableSpec) -> list[str]:
        schema = self.target.schema
        return [f"CREATE SCHEMA IF NOT EXISTS {q(schema)}", flat_table_sql(spec, schema)]

    def drop_sql(self, physical_name: str) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.table(physical_name)}"]

    def plan_migration(self, old: TableSpec, new: TableSpec, operations: list) -> MigrationPlan:
        return plan_flat_table(old, new, operations, self.target.schema)

    async def has_schema(self, spec: TableSpec, rebuilt: bool) -> bool:
        """Whether the live table has ``spec``'s columns (names, order, types, NOT NULL)
        and constraints, compared with a probe table made from create_sql and rolled back.
        In-place changes append added columns, so for them the column names suffice."""
        create = flat_table_sql(spec, self.target.schema, name=PROBE)
        found = await self._compare_with_probe(table_shape, self.table(spec.physical_name), create)
        if found is None:
            return False
        live, expected = found
        if live == expected:
            return True
        if rebuilt:
            return False
        types = {f["name"]: CATALOG_TYPES[column_type(f)] for f in spec.fields}
        rowid = rowid_column(spec.schema)
        if rowid:
            types[rowid] = CATALOG_TYPES["BIGINT"]
        return sorted((name, kind) for name, kind, _ in live[0]) == sorted(types.items())

    async def read_records(
        self, spec: TableSpec, fields: list[str], deadline: float | None = None
    ) -> tuple[list[tuple[Any, dict]], bool]:
        by_name = {f["name"]: f for f in spec.fields}
        key = key_list(spec.schema.get("primaryKey")) or [rowid_column(spec.schema)]
        by_name.setdefault(key[0], {"name": key[0], "type": "integer"})
        names = [*key, *fields]
        select = ", ".join(q(n) for n in names)
        order = ", ".join(q(n) for n in key)
        width = len(key)

        def convert(page: list[tuple]) -> list[tuple[Any, dict]]:
            return [
                (
                    row[0] if width == 1 else list(row[:width]),
                    dict(zip(fields, row[width:], strict=True)),
                )
                for row in native_rows([by_name[n] for n in names], page)
            ]

        sql = f"SELECT {select} FROM {self.table(spec.physical_name)} ORDER BY {order}"
        return await self.scan(sql, convert, deadline)


class PostgresJsonb(PostgresProvider):
    provider_type = "jsonb"

    @classmethod
    def data_resource(cls, physical_name: str) -> str:
        return jsonb_view_name(physical_name)

    def create_sql(self, spec: TableSpec) -> list[str]:
        schema = self.target.schema
        return [f"CREATE SCHEMA IF NOT EXISTS {q(schema)}", *jsonb_sql(spec, schema)]

    def drop_sql(self, physical_name: str) -> list[str]:
        return [
            f"DROP VIEW IF EXISTS {self.table(jsonb_view_name(physical_name))}",
            f"DROP TABLE IF EXISTS {self.table(physical_name)}",
        ]

    def plan_migration(self, old: TableSpec, new: TableSpec, operations: list) -> MigrationPlan:
        return plan_jsonb(old, new, operations, self.target.schema)

    async def has_schema(self, spec: TableSpec, rebuilt: bool) -> bool:
        """Whether the live view reads the documents as ``spec`` (its fields, its aliases)
        says, compared with a probe view made from create_sql and rolled back."""
        create = jsonb_view_sql(spec, self.target.schema, view=PROBE)
        view = self.table(jsonb_view_name(spec.physical_name))
        found = await self._compare_with_probe(view_definition, view, create)
        return found is not None and found[0] == found[1]

    async def read_records(
        self, spec: TableSpec, fields: list[str], deadline: float | None = None
    ) -> tuple[list[tuple[Any, dict]], bool]:
        """Documents as written; a renamed field is read under any of its earlier names."""
        names, aliases = fields, spec.aliases

        def convert(page: list[tuple]) -> list[tuple[Any, dict]]:
            return [
                (row_id, dict(zip(fields, document_values(data, names, aliases), strict=True)))
                for row_id, data in page
            ]

        sql = f"SELECT id, data FROM {self.table(spec.physical_name)} ORDER BY id"
        return await self.scan(sql, convert, deadline)
