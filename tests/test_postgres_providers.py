"""The PostgreSQL providers against a real server: DDL, writes, reads, COPY imports,
migrations and crash-recovery checks, compared with the SQLite providers where they
should agree."""

from __future__ import annotations

import asyncio
import copy
import sqlite3
import threading
import time

import psycopg
import pytest
import pytest_asyncio
from conftest import RUN_PREFIX
from datasette.app import Datasette
from datasette.database import Database

from datasette_dataservice.config import PostgresConnection
from datasette_dataservice.providers.base import ProviderError, TableSpec
from datasette_dataservice.providers.postgres_storage import PostgresConnections, PostgresTarget
from datasette_dataservice.providers.postgres_tables import PostgresFlatTable, PostgresJsonb
from datasette_dataservice.providers.sqlite import SQLiteFlatTable, SQLiteJsonb
from datasette_dataservice.schema.diff import diff_schemas
from datasette_dataservice.schema.rows import compile_validator

pytestmark = pytest.mark.asyncio

ALL_TYPES = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "s", "type": "string"},
        {"name": "n", "type": "number"},
        {"name": "b", "type": "boolean"},
        {"name": "o", "type": "object"},
        {"name": "a", "type": "array"},
        {"name": "l", "type": "list"},
        {"name": "d", "type": "date"},
        {"name": "t", "type": "time"},
        {"name": "dt", "type": "datetime"},
        {"name": "y", "type": "year"},
        {"name": "ym", "type": "yearmonth"},
        {"name": "du", "type": "duration"},
        {"name": "gp", "type": "geopoint"},
        {"name": "gj", "type": "geojson"},
        {"name": "an", "type": "any"},
        {"name": "u", "type": "string", "format": "uuid"},
    ],
    "primaryKey": ["id"],
}
ALL_TYPES_ROWS = [
    {
        "id": 1,
        "s": "héllo 'quoted' \\ back",
        "n": 0.1 + 0.2,
        "b": True,
        "o": {"z": 1, "a": [1.5, None, "x"]},
        "a": [1, "two", {"three": 3}],
        "l": "a,b",
        "d": "2024-02-29",
        "t": "10:11:12.5Z",
        "dt": "2024-10-30T12:00:00Z",
        "y": 2024,
        "ym": "2024-03",
        "du": "P1DT2H",
        "gp": "1.5,2.5",
        "gj": {"type": "Point", "coordinates": [1, 2]},
        "an": "text",
        "u": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    },
    {"id": 2, "n": 3, "b": False, "an": 5, "dt": "2024-10-30T12:00:00.123456Z", "y": 1},
    {"id": 3, "n": "-2.5e3", "an": 2.5},  # ("1e400" is a type error: infinity is not stored)
    {"id": 4},
]


async def read_all(provider, spec, fields):
    """Every stored record (``read_records`` with no deadline reads them all)."""
    records, complete = await provider.read_records(spec, fields)
    assert complete
    return records


def validated(schema: dict, rows: list[dict]) -> list[dict]:
    result = compile_validator(schema).validate_records(copy.deepcopy(rows))
    assert not result.errors, result.errors
    return result.rows


def full(schema: dict, row: dict) -> dict:
    """A row with every field, as the validator hands rows over (unvalidated)."""
    return {f["name"]: row.get(f["name"]) for f in schema["fields"]}


def spec_of(name: str, schema: dict, aliases: dict | None = None) -> TableSpec:
    return TableSpec(
        name,
        copy.deepcopy(schema),
        lambda ref, own=name: f"myapp_{ref}" if ref else own,
        aliases or {},
    )


@pytest_asyncio.fixture
async def target(postgres_config):
    config = postgres_config["main"]
    connections = PostgresConnections({"main": PostgresConnection("main", config["dsn"])})
    schema = f"{config['schema_prefix']}myapp_main"
    # Each test's schema, in one database for them all (created on first use).
    yield PostgresTarget("myapp_main", schema, "main", connections, f"{RUN_PREFIX}providers")
    await connections.close()


@pytest.fixture
def flat(target):
    return PostgresFlatTable(target)


@pytest.fixture
def jsonb(target):
    return PostgresJsonb(target)


@pytest_asyncio.fixture
async def sqlite_db(tmp_path):
    path = tmp_path / "compare.db"
    sqlite3.connect(path).close()
    datasette = Datasette()
    database = datasette.add_database(
        Database(datasette, path=str(path), is_mutable=True), name="compare"
    )
    yield database
    datasette.close()


async def query(target: PostgresTarget, sql: str, params=None) -> list[tuple]:
    async with target.connect() as conn:
        cursor = await conn.execute(sql, params)
        return await cursor.fetchall()


async def columns_of(target: PostgresTarget, table: str) -> list[tuple[str, str, str]]:
    return await query(
        target,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        [target.schema, table],
    )


async def materialized(provider, name: str, schema: dict, rows: list[dict] | None = None):
    spec = spec_of(name, schema)
    await provider.materialize(spec)
    if rows:
        await provider.write_rows(spec, validated(schema, rows), "insert", False)
    return spec


async def pages(provider, spec: TableSpec, names: list[str], size: int = 2) -> list[list]:
    return [row async for page in provider.read_pages(spec, names, size) for row in page]


# Materialize, type mapping, round trips ---------------------------------------------------


async def test_flat_table_columns_use_the_mapped_types(flat, target):
    sql = await flat.materialize(spec_of("myapp_types", ALL_TYPES))
    assert sql[0] == f'CREATE SCHEMA IF NOT EXISTS "{target.schema}"'
    assert f'CREATE TABLE "{target.schema}"."myapp_types"' in sql[1]
    assert [(name, kind) for name, kind, _ in await columns_of(target, "myapp_types")] == [
        ("id", "bigint"),
        ("s", "text"),
        ("n", "numeric"),
        ("b", "boolean"),
        ("o", "jsonb"),
        ("a", "jsonb"),
        ("l", "jsonb"),
        ("d", "date"),
        ("t", "time with time zone"),
        ("dt", "timestamp with time zone"),
        ("y", "integer"),
        ("ym", "text"),
        ("du", "text"),
        ("gp", "text"),
        ("gj", "jsonb"),
        ("an", "jsonb"),
        ("u", "text"),
    ]
    assert await flat.count_rows("myapp_types") == 0
    assert await flat.count_rows("myapp_missing") is None


@pytest.mark.parametrize("kind", ["flat_table", "jsonb"])
async def test_every_type_reads_back_as_the_sqlite_provider_reads_it(kind, target, sqlite_db):
    postgres = (PostgresFlatTable if kind == "flat_table" else PostgresJsonb)(target)
    sqlite = (SQLiteFlatTable if kind == "flat_table" else SQLiteJsonb)(sqlite_db)
    rows = validated(ALL_TYPES, ALL_TYPES_ROWS)
    names = [f["name"] for f in ALL_TYPES["fields"]]
    results = []
    for provider in (postgres, sqlite):
        spec = spec_of("myapp_types", ALL_TYPES)
        await provider.materialize(spec)
        returned = await provider.write_rows(spec, copy.deepcopy(rows), "insert", True)
        key = "_id" if kind == "jsonb" else "id"
        keys = [(1,), (2,), (3,), (4,)]
        results.append(
            {
                "records": await read_all(provider, spec, names),
                "by_key": await provider.rows_by_key(spec, [key], keys),
                "pages": await pages(provider, spec, names),
                "returned": returned,
                "keys": await provider.all_keys(spec, ("id", "dt")),
            }
        )
    postgres_result, sqlite_result = results
    assert postgres_result["records"] == sqlite_result["records"]
    assert postgres_result["by_key"] == sqlite_result["by_key"] or kind == "flat_table"
    assert postgres_result["pages"] == sqlite_result["pages"]
    assert postgres_result["keys"] == sqlite_result["keys"]
    # The values are the validated ones, exactly (0.1 + 0.2 keeps all 17 digits).
    assert [record for _, record in postgres_result["records"]] == [
        {n: row.get(n) for n in names} for row in rows
    ]
    if kind == "jsonb":  # physical rows with the document as JSON text, as core returns them
        assert postgres_result["returned"] == sqlite_result["returned"]
    else:
        # SQLite returns raw storage values (booleans 0/1, JSON as text); PostgreSQL the
        # JSON-native ones, which equal the rows as written.
        assert postgres_result["returned"] == [{n: row.get(n) for n in names} for row in rows]
        # flat_table rows_by_key: SQLite's ANY column reads a stored dict back as JSON text.
        by_key = postgres_result["by_key"]
        assert by_key == {(row["id"],): {n: row.get(n) for n in names} for row in rows}


async def test_offsets_are_kept_for_times_and_normalised_to_utc_for_datetimes(flat):
    schema = {"fields": [{"name": "t", "type": "time"}, {"name": "dt", "type": "datetime"}]}
    rows = [
        {"t": "10:11:12+02:00", "dt": "2024-10-30T12:00:00+02:00"},
        {"t": "10:11:12", "dt": "2024-10-30T12:00:00"},
    ]
    spec = await materialized(flat, "myapp_times", schema, rows)
    records = [record for _, record in await read_all(flat, spec, ["t", "dt"])]
    assert records == [
        {"t": "10:11:12+02:00", "dt": "2024-10-30T10:00:00Z"},
        {"t": "10:11:12Z", "dt": "2024-10-30T12:00:00Z"},  # naive values are UTC
    ]
    # A lookup by the value as written still finds the row stored in another spelling.
    found = await flat.existing_values(spec, ("dt",), ["2024-10-30T12:00:00+02:00"], ["t"])
    assert found == {"2024-10-30T12:00:00+02:00": ("10:11:12+02:00",)}


async def test_jsonb_table_has_gin_index_key_indexes_and_typed_view(jsonb, target):
    schema = {
        "fields": [
            {"name": "code", "type": "string", "constraints": {"unique": True}},
            {"name": "n", "type": "integer"},
            {"name": "ok", "type": "boolean"},
            {"name": "o", "type": "object"},
            {"name": "when", "type": "datetime"},
        ],
        "primaryKey": "n",
    }
    sql = await jsonb.materialize(spec_of("myapp_docs", schema))
    assert any("USING GIN (data)" in s for s in sql)
    indexes = dict(
        await query(
            target,
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1",
            [target.schema],
        )
    )
    assert "USING gin (data)" in indexes["myapp_docs_data_gin"]
    assert "UNIQUE" in indexes["myapp_docs_key_0"] and "'n'" in indexes["myapp_docs_key_0"]
    assert "'code'" in indexes["myapp_docs_key_1"]
    assert await columns_of(target, "myapp_docs_view") == [
        ("_id", "bigint", "YES"),
        ("code", "text", "YES"),
        ("n", "numeric", "YES"),
        ("ok", "boolean", "YES"),
        ("o", "jsonb", "YES"),
        ("when", "text", "YES"),
    ]
    assert PostgresJsonb.data_resource("myapp_docs") == "myapp_docs_view"
    # Documents of another shape never break the view (migrations leave them as written).
    async with target.connect() as conn:
        await conn.execute(
            f'INSERT INTO "{target.schema}".myapp_docs (data) VALUES (%s), (%s)',
            ['{"n": "seven", "ok": "yes", "o": [1], "when": 5}', '{"n": 7.5, "ok": true}'],
        )
    view = await query(target, f'SELECT n, ok, o, "when" FROM "{target.schema}".myapp_docs_view')
    # A value of another JSON type reads as NULL, as in the SQLite view.
    assert [tuple(map(str, row)) for row in view] == [
        ("None", "None", "None", "None"),
        ("None", "True", "None", "None"),
    ]


async def test_materialize_refuses_a_name_in_use_and_long_identifiers(flat, jsonb):
    spec = await materialized(flat, "myapp_t", {"fields": [{"name": "a"}]})
    with pytest.raises(ProviderError, match='already has a table or view named "myapp_t"'):
        await flat.materialize(spec)
    with pytest.raises(ProviderError, match='already has a table or view named "myapp_t"'):
        await jsonb.materialize(spec_of("MYAPP_T", {"fields": [{"name": "a"}]}))
    long_field = "é" * 40  # 40 characters, 80 bytes
    with pytest.raises(ProviderError, match=f'"{long_field}".*63 bytes'):
        await flat.materialize(spec_of("myapp_long", {"fields": [{"name": long_field}]}))
    long_table = "myapp_" + "x" * 55  # fits, but its view name does not
    with pytest.raises(ProviderError, match=f'"{long_table}_view"'):
        await jsonb.materialize(spec_of(long_table, {"fields": [{"name": "a"}]}))
    assert await jsonb.count_rows(long_table) is None


async def test_drop_and_rename_keep_names_aligned(flat, jsonb, target):
    schema = {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "email", "type": "string", "constraints": {"unique": True}},
        ],
        "primaryKey": "id",
    }
    spec = await materialized(flat, "myapp_a", schema, [{"id": 1, "email": "a@x"}])
    sql = await flat.rename(spec, "myapp_b")
    assert sql[0] == f'ALTER TABLE "{target.schema}"."myapp_a" RENAME TO "myapp_b"'
    assert any('RENAME CONSTRAINT "myapp_a_pkey" TO "myapp_b_pkey"' in s for s in sql)
    assert await flat.count_rows("myapp_a") is None and await flat.count_rows("myapp_b") == 1
    # The old name is free again, constraint names included.
    await materialized(flat, "myapp_a", schema)
    documents = await materialized(jsonb, "myapp_d", schema, [{"id": 1, "email": "a@x"}])
    await jsonb.rename(documents, "myapp_e")
    moved = spec_of("myapp_e", schema)
    assert await jsonb.rows_by_key(moved, ["_id"], [(1,)]) == {
        (1,): {"_id": 1, "id": 1, "email": "a@x"}
    }
    assert await jsonb.has_schema(moved, False)
    names = {
        row[0]
        for row in await query(
            target,
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace"
            " WHERE nspname = %s",
            [target.schema],
        )
    }
    assert {"myapp_e_view", "myapp_e_data_gin", "myapp_e_key_0", "myapp_e_id_seq"} <= names
    assert not {n for n in names if n.startswith("myapp_d")}
    assert await jsonb.drop("myapp_e") == [
        f'DROP VIEW IF EXISTS "{target.schema}"."myapp_e_view"',
        f'DROP TABLE IF EXISTS "{target.schema}"."myapp_e"',
    ]
    assert await jsonb.count_rows("myapp_e") is None


# Constraints the engine enforces ----------------------------------------------------------

CONSTRAINED = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "email", "type": "string", "constraints": {"required": True, "unique": True}},
        {"name": "age", "type": "integer", "constraints": {"minimum": 0, "maximum": 150}},
        {"name": "role", "type": "string", "constraints": {"enum": ["admin", "user"]}},
        {"name": "code", "type": "string", "constraints": {"maxLength": 3}},
        {"name": "ref", "type": "string", "format": "uuid"},
        {"name": "meta", "type": "object"},
        {"name": "manager", "type": "integer"},
    ],
    "primaryKey": ["id"],
    "foreignKeys": [{"fields": "manager", "reference": {"resource": "", "fields": "id"}}],
}


@pytest.mark.parametrize(
    "row, message",
    [
        ({"id": 9}, 'null value in column "email"'),
        ({"id": 1, "email": "other@x"}, "duplicate key value violates unique constraint"),
        ({"id": 9, "email": "a@x"}, "Key (email)=(a@x) already exists"),
        ({"id": 9, "email": "b@x", "age": -1}, "violates check constraint"),
        ({"id": 9, "email": "b@x", "role": "root"}, "violates check constraint"),
        ({"id": 9, "email": "b@x", "code": "ABCD"}, "violates check constraint"),
        ({"id": 9, "email": "b@x", "ref": "not-a-uuid"}, "violates check constraint"),
        ({"id": 9, "email": "b@x", "meta": [1, 2]}, "violates check constraint"),
        ({"id": 9, "email": "b@x", "manager": 404}, "violates foreign key constraint"),
    ],
)
async def test_the_engine_refuses_rows_that_break_constraints(flat, row, message):
    """Rows are written unvalidated here: the constraints are PostgreSQL's own."""
    spec = await materialized(flat, "myapp_people", CONSTRAINED, [{"id": 1, "email": "a@x"}])
    row = full(CONSTRAINED, row)
    with pytest.raises(ProviderError, match="^PostgreSQL refused the rows: ") as refused:
        await flat.write_rows(spec, [row], "insert", False)
    assert message in str(refused.value)
    assert await flat.count_rows("myapp_people") == 1


async def test_accepted_values_pass_the_checks_and_foreign_keys_are_deferred(flat, target):
    spec = await materialized(flat, "myapp_people", CONSTRAINED)
    uuids = [
        "6BA7B810-9DAD-11D1-80B4-00C04FD430C8",
        "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
        "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "6ba7b8109dad11d180b400c04fd430c8",
    ]
    rows = [  # row 1 names a manager only a later row holds
        {"id": 1, "email": "a@x", "manager": 3, "ref": uuids[0], "role": "admin"},
        {"id": 2, "email": "b@x", "ref": uuids[1], "age": 150, "code": "ABC"},
        {"id": 3, "email": "c@x", "ref": uuids[2], "meta": {"a": 1}},
        {"id": 4, "email": "d@x", "ref": uuids[3], "manager": 4},
    ]
    await flat.write_rows(spec, validated(CONSTRAINED, rows), "insert", False)
    assert await flat.count_rows("myapp_people") == 4
    deferrable = await query(
        target,
        "SELECT condeferrable, condeferred FROM pg_constraint WHERE contype = 'f'"
        " AND conrelid = %s::regclass",
        [f'"{target.schema}"."myapp_people"'],
    )
    assert deferrable == [(True, True)]
    # A foreign key that still dangles at commit refuses the whole write.
    late = [{"id": 5, "email": "e@x", "manager": 6}, {"id": 7, "email": "f@x"}]
    with pytest.raises(ProviderError, match="violates foreign key constraint"):
        await flat.write_rows(spec, [full(CONSTRAINED, row) for row in late], "insert", False)
    assert await flat.count_rows("myapp_people") == 4


async def test_foreign_keys_reach_other_tables_of_the_schema(flat):
    teams = await materialized(
        flat,
        "myapp_teams",
        {"fields": [{"name": "id", "type": "integer"}], "primaryKey": "id"},
        [{"id": 1}],
    )
    schema = {
        "fields": [{"name": "team", "type": "integer"}, {"name": "x", "type": "string"}],
        "foreignKeys": [{"fields": "team", "reference": {"resource": "teams", "fields": "id"}}],
    }
    spec = await materialized(flat, "myapp_members", schema, [{"team": 1}])
    with pytest.raises(ProviderError, match='is not present in table "myapp_teams"'):
        await flat.write_rows(spec, [{"team": 2, "x": None}], "insert", False)
    assert await flat.all_keys(teams, ("id",)) == {(1,)}


# Write modes ------------------------------------------------------------------------------

KEYED = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "score", "type": "number"},
    ],
    "primaryKey": "id",
}


async def test_flat_table_write_modes(flat):
    spec = await materialized(flat, "myapp_k", KEYED, [{"id": 1, "name": "a", "score": 1}])
    one = {"id": 1, "name": "b", "score": 2.5}
    with pytest.raises(ProviderError, match="already exists"):
        await flat.write_rows(spec, [one], "insert", False)
    assert await flat.write_rows(spec, [one, {"id": 2, "name": "c"}], "ignore", True) == [
        {"id": 2, "name": "c", "score": None}
    ]
    assert await flat.write_rows(spec, [one], "replace", True) == [one]
    upserted = {"id": 1, "name": "d", "score": None}
    assert await flat.write_rows(spec, [upserted, {"id": 3}], "upsert", True) == [
        upserted,
        {"id": 3, "name": None, "score": None},
    ]
    stored = await flat.rows_by_key(spec, ["id"], [(1,), (2,), (3,), (4,)])
    assert stored == {
        (1,): upserted,
        (2,): {"id": 2, "name": "c", "score": None},
        (3,): {"id": 3, "name": None, "score": None},
    }
    with pytest.raises(ProviderError, match="unknown write mode"):
        await flat.write_rows(spec, [one], "merge", False)
    unkeyed = await materialized(flat, "myapp_u", {"fields": [{"name": "a"}]})
    with pytest.raises(ProviderError, match="upsert needs a primary key"):
        await flat.write_rows(unkeyed, [{"a": "x"}], "upsert", False)
    await flat.write_rows(unkeyed, [{"a": "x"}, {"a": "x"}], "replace", False)
    assert await flat.count_rows("myapp_u") == 2


async def test_jsonb_write_modes_and_ids(jsonb):
    spec = await materialized(jsonb, "myapp_k", KEYED)
    first = await jsonb.write_rows(spec, [{"id": 1, "name": "a"}], "insert", True)
    assert first == [{"id": 1, "data": '{"id": 1, "name": "a"}'}]
    # An explicit id moves the sequence on, so later documents never collide with it.
    await jsonb.write_rows(spec, [{"_id": 10, "id": 10}], "insert", False)
    assert await jsonb.write_rows(spec, [{"id": 11}], "insert", True) == [
        {"id": 11, "data": '{"id": 11}'}
    ]
    with pytest.raises(ProviderError, match="already exists"):  # the key index
        await jsonb.write_rows(spec, [{"id": 1, "name": "dup"}], "insert", False)
    # Ignored rows are not returned. Ids come from a sequence: unlike SQLite's max(id) + 1,
    # refused and ignored rows leave gaps.
    (ignored,) = await jsonb.write_rows(spec, [{"id": 1}, {"id": 12}], "ignore", True)
    assert ignored["data"] == '{"id": 12}' and ignored["id"] > 11
    await jsonb.write_rows(spec, [{"_id": 10, "id": 10, "name": "replaced"}], "replace", False)
    # Upsert without ids finds the document by the schema's primary key and keeps its id.
    await jsonb.write_rows(spec, [{"id": 1, "name": "upserted"}], "upsert", False)
    await jsonb.write_rows(
        spec, [{"_id": ignored["id"], "id": 12, "name": "by id"}], "upsert", False
    )
    stored = await jsonb.rows_by_key(spec, ["_id"], [(1,), (10,), (ignored["id"],)])
    assert {k: v["name"] for k, v in stored.items()} == {
        (1,): "upserted",
        (10,): "replaced",
        (ignored["id"],): "by id",
    }
    assert await jsonb.count_rows("myapp_k") == 4
    by_url = await jsonb.rows_by_key(spec, ["_id"], [("10",), ("x",)])  # ids from URLs
    assert list(by_url) == [(10,)]


async def test_update_row_and_delete_row(flat, jsonb):
    spec = await materialized(flat, "myapp_k", KEYED, [{"id": 1, "name": "a"}, {"id": 2}])
    await flat.update_row(spec, {"id": 1}, {"id": 1, "name": "b", "score": 0.1})
    assert (await flat.rows_by_key(spec, ["id"], [(1,)]))[(1,)]["score"] == 0.1
    with pytest.raises(ProviderError, match="already exists"):
        await flat.update_row(spec, {"id": 1}, {"id": 2, "name": "b", "score": None})
    assert await flat.delete_row(spec, {"id": "2"}) is True
    assert await flat.delete_row(spec, {"id": 2}) is False
    assert await flat.delete_row(spec, {"id": "not a number"}) is False
    assert await flat.count_rows("myapp_k") == 1
    documents = await materialized(jsonb, "myapp_d", KEYED, [{"id": 1}, {"id": 2}])
    await jsonb.update_row(documents, {"_id": 2}, {"_id": 2, "id": 2, "name": "two"})
    assert (await jsonb.rows_by_key(documents, ["_id"], [(2,)]))[(2,)]["name"] == "two"
    assert await jsonb.delete_row(documents, {"_id": 1}) is True
    assert await jsonb.delete_row(documents, {"id": 2}) is True
    assert await jsonb.delete_row(documents, {"_id": 2}) is False
    assert await jsonb.count_rows("myapp_d") == 0


@pytest.mark.parametrize("kind", ["flat_table", "jsonb"])
async def test_existing_values_all_keys_and_rows_by_key(kind, target):
    provider = (PostgresFlatTable if kind == "flat_table" else PostgresJsonb)(target)
    schema = {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "a", "type": "string"},
            {"name": "b", "type": "date"},
            {"name": "on", "type": "boolean"},
        ],
        "primaryKey": "id",
        "uniqueKeys": [["a", "b"]],
    }
    rows = [
        {"id": 1, "a": "x", "b": "2024-01-01", "on": True},
        {"id": 2, "a": "y", "b": "2024-01-02"},
    ]
    spec = await materialized(provider, "myapp_v", schema, rows)
    owner = ["_id"] if kind == "jsonb" else ["id"]
    found = await provider.existing_values(spec, ("id",), [1, 2, 3], owner)
    assert found == {1: (1,), 2: (2,)}
    pairs = [("x", "2024-01-01"), ("x", "2024-01-02"), ("y", "2024-01-02")]
    assert await provider.existing_values(spec, ("a", "b"), pairs) == {
        ("x", "2024-01-01"): None,
        ("y", "2024-01-02"): None,
    }
    assert await provider.existing_values(spec, ("on",), [True, False], owner) == {True: (1,)}
    assert await provider.existing_values(spec, ("b",), ["not a date", "2024-01-02"]) == {
        "2024-01-02": None
    }
    assert await provider.all_keys(spec, ("a", "b")) == {
        ("x", "2024-01-01"),
        ("y", "2024-01-02"),
    }
    stored = await provider.rows_by_key(spec, ["id"], [(2,), ("1",), (5,)])
    assert sorted(stored) == [(1,), (2,)]
    expected = {"id": 2, "a": "y", "b": "2024-01-02", "on": None}
    assert {k: v for k, v in stored[(2,)].items() if k != "_id"} == expected


# Imports ----------------------------------------------------------------------------------


def batches_of(rows: list[dict], size: int, first_number: int = 2, seen: list | None = None):
    """(rows, row numbers) batches as the importer yields them; notes the threads it runs on."""
    for start in range(0, len(rows), size):
        if seen is not None:
            seen.append(threading.current_thread())
        yield (
            rows[start : start + size],
            list(
                range(first_number + start, first_number + start + len(rows[start : start + size]))
            ),
        )


async def test_import_copies_every_batch_in_one_transaction(flat):
    spec = await materialized(flat, "myapp_k", KEYED)
    rows = validated(KEYED, [{"id": i, "name": f"n{i}", "score": i / 3} for i in range(1, 101)])
    threads: list = []
    ticks = 0

    def slow_batches():  # an upload that streams in: blocking between batches
        for batch in batches_of(rows, 30, seen=threads):
            time.sleep(0.05)
            yield batch

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.ensure_future(ticker())
    await flat.import_batches(spec, slow_batches(), "insert", False, pytest.fail)
    ticking.cancel()
    assert ticks >= 10  # the event loop ran while the batches were being read
    assert threads and threading.main_thread() not in threads
    assert await flat.count_rows("myapp_k") == 100
    assert await pages(flat, spec, ["id", "name", "score"], 1000) == [
        [r["id"], r["name"], r["score"]] for r in rows
    ]


async def test_a_refused_batch_rolls_the_whole_import_back(flat, jsonb):
    spec = await materialized(flat, "myapp_k", KEYED, [{"id": 5}])
    rows = validated(KEYED, [{"id": i} for i in range(1, 11)])  # id 5 is stored already
    with pytest.raises(ProviderError, match=r"PostgreSQL refused the rows: .*\(id\)=\(5\)"):
        await flat.import_batches(spec, batches_of(rows, 4), "insert", False, pytest.fail)
    assert await flat.count_rows("myapp_k") == 1

    class Refused(Exception):
        pass

    def failing():
        yield from batches_of(rows[5:], 2)
        raise Refused()  # the importer refusing invalid rows: nothing lands

    with pytest.raises(Refused):
        await flat.import_batches(spec, failing(), "insert", False, pytest.fail)
    assert await flat.count_rows("myapp_k") == 1
    documents = await materialized(jsonb, "myapp_d", KEYED, [{"id": 5}])
    with pytest.raises(ProviderError, match="already exists"):
        await jsonb.import_batches(documents, batches_of(rows, 4), "insert", False, pytest.fail)
    assert await jsonb.count_rows("myapp_d") == 1


@pytest.mark.parametrize("kind", ["flat_table", "jsonb"])
async def test_import_with_skip_reports_the_refused_row_numbers(kind, target):
    provider = (PostgresFlatTable if kind == "flat_table" else PostgresJsonb)(target)
    spec = await materialized(provider, "myapp_k", KEYED, [{"id": 3}, {"id": 17}, {"id": 18}])
    rows = validated(KEYED, [{"id": i, "name": str(i)} for i in range(1, 21)])
    refused: list[list[int]] = []
    await provider.import_batches(spec, batches_of(rows, 8), "insert", True, refused.append)
    assert refused == [[4], [18, 19]]  # ids 3, 17 and 18, numbered from the header's row 2
    assert await provider.count_rows("myapp_k") == 20
    names = await provider.existing_values(spec, ("id",), list(range(1, 21)))
    assert sorted(names) == list(range(1, 21))


@pytest.mark.parametrize("kind", ["flat_table", "jsonb"])
async def test_import_upsert_goes_through_a_staging_table(kind, target):
    provider = (PostgresFlatTable if kind == "flat_table" else PostgresJsonb)(target)
    spec = await materialized(provider, "myapp_k", KEYED, [{"id": 1, "name": "old"}])
    rows = validated(KEYED, [{"id": 1, "name": "new"}, {"id": 2, "name": "two"}])
    await provider.import_batches(spec, batches_of(rows, 1), "upsert", False, pytest.fail)
    stored = await provider.rows_by_key(spec, ["id"], [(1,), (2,)])  # a field, for jsonb too
    assert {k: v["name"] for k, v in stored.items()} == {(1,): "new", (2,): "two"}
    for mode in ("ignore", "replace"):
        await provider.import_batches(spec, batches_of(rows, 5), mode, False, pytest.fail)
    assert await provider.count_rows("myapp_k") == 2


async def test_jsonb_import_keeps_explicit_ids_and_numbers_the_rest(jsonb):
    spec = await materialized(jsonb, "myapp_d", KEYED)
    rows = [{"_id": 7, "id": 1}, {"id": 2}, {"id": 3}, {"_id": 3, "id": 4}]
    await jsonb.import_batches(spec, batches_of(rows, 10), "insert", False, pytest.fail)
    records = await read_all(jsonb, spec, ["id"])
    assert sorted((row_id, r["id"]) for row_id, r in records) == [(3, 4), (7, 1), (8, 2), (9, 3)]
    await jsonb.write_rows(spec, [{"id": 5}], "insert", False)
    assert max(row_id for row_id, _ in await read_all(jsonb, spec, ["id"])) == 10


async def test_import_runs_at_least_half_as_fast_as_a_raw_copy(flat, target):
    """The performance target: COPY through the provider >= 50% of psycopg's raw COPY of
    the same rows (best of five, to ride out a busy machine). Typically 0.7 to 0.9: the
    provider also turns dicts into rows, and overlaps that with the server's work."""
    schema = {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "name", "type": "string"},
            {"name": "score", "type": "number"},
            {"name": "day", "type": "date"},
            {"name": "meta", "type": "object"},
        ],
        "primaryKey": "id",
    }
    rows = [
        {"id": i, "name": f"name {i}", "score": i / 7, "day": "2024-10-30", "meta": {"i": i}}
        for i in range(30_000)
    ]
    raw_rows = [
        (r["id"], r["name"], r["score"], r["day"], psycopg.types.json.Jsonb(r["meta"]))
        for r in rows
    ]
    raw_times, import_times = [], []

    async def raw_copy(table: str) -> None:
        started = time.perf_counter()
        async with target.connect() as conn, conn.transaction(), conn.cursor() as cursor:
            async with cursor.copy(f"COPY {table} (id, name, score, day, meta) FROM STDIN") as cp:
                for row in raw_rows:
                    await cp.write_row(row)
        raw_times.append(time.perf_counter() - started)

    async def provider_import(spec: TableSpec) -> None:
        started = time.perf_counter()
        await flat.import_batches(spec, batches_of(rows, 10_000), "insert", False, pytest.fail)
        import_times.append(time.perf_counter() - started)
        assert await flat.count_rows(spec.physical_name) == len(rows)

    for attempt in range(5):  # alternating which goes first
        spec = await materialized(flat, f"myapp_p{attempt}", schema)
        await flat.materialize(spec_of(f"myapp_r{attempt}", schema))
        raw = raw_copy(f'"{target.schema}"."myapp_r{attempt}"')
        ours = provider_import(spec)
        for run in (raw, ours) if attempt % 2 else (ours, raw):
            await run
    assert min(raw_times) / min(import_times) >= 0.5, (raw_times, import_times)


# Migrations -------------------------------------------------------------------------------


async def migrate(provider, old: TableSpec, new_schema: dict, renames=None, cast=None):
    """Plan and run a change as the service does; (new spec, plan, rows rewritten)."""
    operations = diff_schemas(old.schema, new_schema, renames or {})
    aliases = dict(old.aliases)
    for before, after in (renames or {}).items():
        aliases[after] = [before, *aliases.pop(before, [])]
    new = TableSpec(old.physical_name, copy.deepcopy(new_schema), old.resolve_reference, aliases)
    plan = provider.plan_migration(old, new, operations)
    return new, plan, await provider.migrate(old, new, plan, cast)


async def shape_of(target: PostgresTarget, table: str) -> tuple[list, list]:
    """Columns (name, type, nullable) in order and constraint definitions, sorted."""
    constraints = await query(
        target,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
        " ORDER BY 1",
        [f'"{target.schema}"."{table}"'],
    )
    return await columns_of(target, table), [row[0] for row in constraints]


async def fresh_shape(flat, target, spec: TableSpec) -> tuple[list, list]:
    fresh = TableSpec("myapp_fresh", spec.schema, spec.resolve_reference)
    await flat.materialize(fresh)
    shape = await shape_of(target, "myapp_fresh")
    await flat.drop("myapp_fresh")
    return shape


PEOPLE = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "age", "type": "string"},
        {"name": "gone", "type": "string"},
    ],
    "primaryKey": "id",
}
PEOPLE_ROWS = [
    {"id": 1, "name": "Ada", "age": "36", "gone": "x"},
    {"id": 2, "name": "Alan", "age": "41"},
]


async def test_add_drop_rename_alter_in_place_in_one_transaction(flat, target):
    old = await materialized(flat, "myapp_people", PEOPLE, PEOPLE_ROWS)
    new_schema = copy.deepcopy(PEOPLE)
    new_schema["fields"] = [
        {"name": "id", "type": "integer"},
        {"name": "full_name", "type": "string"},
        {"name": "age", "type": "string"},
        {"name": "email", "type": "string", "constraints": {"maxLength": 50}},
    ]
    new, plan, rewritten = await migrate(flat, old, new_schema, {"name": "full_name"})
    table = f'"{target.schema}"."myapp_people"'
    assert (plan.rebuild, rewritten) == (False, 0)
    assert {op.kind: op.effect for op in plan.operations} == {
        "drop_field": "alter",
        "rename_field": "alter",
        "add_field": "alter",
    }
    assert plan.sql == [
        f'ALTER TABLE {table} DROP COLUMN "gone"',
        f'ALTER TABLE {table} RENAME COLUMN "name" TO "full_name"',
        f'ALTER TABLE {table} ADD COLUMN "email" TEXT CHECK (char_length("email") <= 50)',
    ]
    records = await read_all(flat, new, ["full_name", "email"])
    assert records == [
        (1, {"full_name": "Ada", "email": None}),
        (2, {"full_name": "Alan", "email": None}),
    ]
    assert await shape_of(target, "myapp_people") == await fresh_shape(flat, target, new)
    assert await flat.has_schema(new, False) and not await flat.has_schema(old, False)


async def test_a_failing_in_place_change_leaves_the_table_untouched(flat, target):
    old = await materialized(flat, "myapp_people", PEOPLE, PEOPLE_ROWS)
    before = await shape_of(target, "myapp_people")
    new_schema = copy.deepcopy(PEOPLE)
    new_schema["fields"] = [*PEOPLE["fields"][:3], {"name": "e" * 64, "type": "string"}]
    with pytest.raises(ProviderError, match="63 bytes"):
        await migrate(flat, old, new_schema)
    # The first ALTER runs, the second fails: the transaction undoes both.
    new_schema["fields"] = [*PEOPLE["fields"][:3], {"name": "x"}]
    operations = diff_schemas(old.schema, new_schema)
    new = spec_of("myapp_people", new_schema)
    plan = flat.plan_migration(old, new, operations)
    plan.sql.append(f'ALTER TABLE "{target.schema}"."myapp_people" ADD COLUMN "x" TEXT')
    with pytest.raises(ProviderError, match='PostgreSQL refused the change: .*"x"'):
        await flat.migrate(old, new, plan)
    assert await shape_of(target, "myapp_people") == before
    assert await flat.count_rows("myapp_people") == 2


async def test_type_change_rebuilds_and_recasts_rows(flat, target):
    old = await materialized(flat, "myapp_people", PEOPLE, PEOPLE_ROWS)
    new_schema = copy.deepcopy(PEOPLE)
    new_schema["fields"][2] = {"name": "age", "type": "integer", "constraints": {"minimum": 0}}
    batches = []

    def cast(records):
        batches.append(threading.current_thread())
        return [{**r, "age": int(r["age"])} for r in records]

    new, plan, rewritten = await migrate(flat, old, new_schema, cast=cast)
    assert (plan.rebuild, plan.recast, rewritten) == (True, ["age"], 2)
    assert batches and threading.main_thread() not in batches
    assert plan.sql[0].startswith("CREATE TEMP TABLE _dataservice_inbound")  # inbound FKs
    assert plan.sql[1].startswith("DO $$")  # dropped, added again after the copy
    assert plan.sql[2].startswith('CREATE SCHEMA "_dataservice_rebuild_')
    assert plan.sql[4].startswith(f'CREATE TABLE "{target.schema}"."myapp_people"')
    assert plan.sql[5].startswith("-- rows copied in batches of 10000, casting age:")
    assert await read_all(flat, new, ["age"]) == [(1, {"age": 36}), (2, {"age": 41})]
    assert await shape_of(target, "myapp_people") == await fresh_shape(flat, target, new)
    assert await flat.has_schema(new, True) and not await flat.has_schema(old, True)
    schemas = await query(target, "SELECT nspname FROM pg_namespace WHERE nspname LIKE '_data%'")
    assert schemas == []  # the scratch schema went with the old table


async def test_a_cast_that_fails_rolls_the_rebuild_back(flat, target):
    old = await materialized(flat, "myapp_people", PEOPLE, PEOPLE_ROWS)
    before = await shape_of(target, "myapp_people")
    new_schema = copy.deepcopy(PEOPLE)
    new_schema["fields"][2] = {"name": "age", "type": "integer"}

    def cast(records):
        raise ValueError("a value no longer casts")

    with pytest.raises(ValueError, match="no longer casts"):
        await migrate(flat, old, new_schema, cast=cast)
    # Without the cast PostgreSQL's own refusal surfaces (the text is not an integer).
    new_schema["fields"][2]["constraints"] = {"maximum": 40}
    with pytest.raises(ProviderError, match="PostgreSQL refused the change: .*check constraint"):
        await migrate(flat, old, new_schema, cast=lambda rs: [{**r, "age": 41} for r in rs])
    assert await shape_of(target, "myapp_people") == before
    assert await read_all(flat, old, ["age"]) == [(1, {"age": "36"}), (2, {"age": "41"})]


async def test_adding_a_required_field_rebuilds(flat, target):
    old = await materialized(flat, "myapp_people", PEOPLE)
    new_schema = copy.deepcopy(PEOPLE)
    new_schema["fields"].insert(
        1, {"name": "email", "type": "string", "constraints": {"required": True}}
    )
    new, plan, rewritten = await migrate(flat, old, new_schema)
    assert plan.rebuild and rewritten == 0
    assert [op.effect for op in plan.operations] == ["rebuild"]
    assert 'SELECT "id", "name", "age", "gone" FROM' in plan.sql[5]
    # A fresh table's column order, not ALTER TABLE's "appended at the end".
    assert [c[0] for c in await columns_of(target, "myapp_people")] == [
        "id",
        "email",
        "name",
        "age",
        "gone",
    ]
    assert await shape_of(target, "myapp_people") == await fresh_shape(flat, target, new)
    # With rows stored, PostgreSQL refuses the NULLs and nothing changes.
    await flat.write_rows(new, [{"id": 1, "email": "a@x"}], "insert", False)
    newer = copy.deepcopy(new_schema)
    newer["fields"].append({"name": "phone", "constraints": {"required": True}})
    with pytest.raises(ProviderError, match='null value in column "phone"'):
        await migrate(flat, new, newer)
    assert await shape_of(target, "myapp_people") == await fresh_shape(flat, target, new)


async def test_rebuild_keeps_foreign_keys_that_point_at_the_table(flat, target):
    teams = await materialized(
        flat,
        "myapp_teams",
        {"fields": [{"name": "id", "type": "integer"}, {"name": "n"}], "primaryKey": "id"},
        [{"id": 1, "n": "a"}, {"id": 2, "n": "b"}],
    )
    members_schema = {
        "fields": [{"name": "team", "type": "integer"}],
        "foreignKeys": [{"fields": "team", "reference": {"resource": "teams", "fields": "id"}}],
    }
    await materialized(flat, "myapp_members", members_schema, [{"team": 2}])
    before = await shape_of(target, "myapp_members")
    new_schema = copy.deepcopy(teams.schema)
    new_schema["fields"][1] = {"name": "n", "constraints": {"required": True}}
    new, plan, rewritten = await migrate(flat, teams, new_schema)
    assert plan.rebuild and rewritten == 2
    assert await shape_of(target, "myapp_members") == before
    members = spec_of("myapp_members", members_schema)
    with pytest.raises(ProviderError, match="violates foreign key constraint"):
        await flat.write_rows(members, [{"team": 3}], "insert", False)
    # A rebuild that loses a referenced row is refused when the key is added back.
    newest = copy.deepcopy(new_schema)
    newest["fields"][0]["constraints"] = {"maximum": 1}
    with pytest.raises(ProviderError, match="violates"):
        await migrate(flat, new, newest, cast=lambda rs: [r for r in rs if r["id"] == 1])
    assert await flat.count_rows("myapp_teams") == 2


async def test_self_referencing_table_rebuilds(flat, target):
    schema = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "boss", "type": "integer"}],
        "primaryKey": "id",
        "foreignKeys": [{"fields": "boss", "reference": {"resource": "", "fields": "id"}}],
    }
    old = await materialized(flat, "myapp_staff", schema, [{"id": 1, "boss": 2}, {"id": 2}])
    new_schema = copy.deepcopy(schema)
    new_schema["fields"].append({"name": "since", "type": "date", "constraints": {"unique": True}})
    new, plan, rewritten = await migrate(flat, old, new_schema)
    assert plan.rebuild and rewritten == 2
    assert await shape_of(target, "myapp_staff") == await fresh_shape(flat, target, new)
    assert await flat.has_schema(new, True)


async def test_metadata_only_changes_touch_nothing(flat, jsonb):
    for provider in (flat, jsonb):
        old = await materialized(provider, f"myapp_{provider.provider_type}", PEOPLE)
        new_schema = copy.deepcopy(PEOPLE)
        new_schema["fields"][1]["description"] = "The name"
        new_schema["missingValues"] = ["", "NA"]
        new, plan, rewritten = await migrate(provider, old, new_schema)
        assert {op.effect for op in plan.operations} == {"metadata"}
        assert not plan.rebuild and rewritten == 0
        if provider is flat:
            assert plan.sql == []


async def test_jsonb_rename_keeps_old_documents_readable(jsonb, target):
    old = await materialized(jsonb, "myapp_docs", PEOPLE, PEOPLE_ROWS)
    new_schema = copy.deepcopy(PEOPLE)
    new_schema["fields"][1] = {"name": "full_name", "type": "string"}
    new_schema["fields"][2] = {"name": "age", "type": "integer"}  # documents keep "36"
    new, plan, rewritten = await migrate(jsonb, old, new_schema, {"name": "full_name"})
    assert new.aliases == {"full_name": ["name"]}
    assert (plan.rebuild, rewritten) == (False, 0)
    assert {op.effect for op in plan.operations} == {"metadata"}
    view = f'"{target.schema}"."myapp_docs_view"'
    assert plan.sql[0] == f"DROP VIEW IF EXISTS {view}"
    assert "coalesce(" in plan.sql[1]
    await jsonb.write_rows(
        new, validated(new_schema, [{"id": 3, "full_name": "Grace", "age": 85}]), "insert", False
    )
    records = await read_all(jsonb, new, ["full_name", "age"])
    assert [r for _, r in records] == [
        {"full_name": "Ada", "age": "36"},
        {"full_name": "Alan", "age": "41"},
        {"full_name": "Grace", "age": 85},
    ]
    rows = await query(target, f"SELECT full_name, age FROM {view} ORDER BY _id")
    assert [(name, None if age is None else int(age)) for name, age in rows] == [
        ("Ada", None),  # "36" is no number: the view shows nothing rather than failing
        ("Alan", None),
        ("Grace", 85),
    ]
    found = await jsonb.existing_values(new, ("full_name",), ["Ada", "Grace", "Bob"], ["_id"])
    assert found == {"Ada": (1,), "Grace": (3,)}
    assert await jsonb.has_schema(new, False) and not await jsonb.has_schema(old, False)
    assert await pages(jsonb, new, ["id", "full_name"]) == [[1, "Ada"], [2, "Alan"], [3, "Grace"]]


async def test_jsonb_key_changes_recreate_the_unique_indexes(jsonb):
    old = await materialized(jsonb, "myapp_docs", PEOPLE, PEOPLE_ROWS + [{"id": 3, "age": "41"}])
    new_schema = copy.deepcopy(PEOPLE)
    new_schema["uniqueKeys"] = [["age"]]
    with pytest.raises(ProviderError, match="could not create unique index"):
        await migrate(jsonb, old, new_schema)
    assert await jsonb.has_schema(old, False)
    new_schema["uniqueKeys"] = [["name"]]
    new, plan, _ = await migrate(jsonb, old, new_schema)
    assert any("CREATE UNIQUE INDEX" in s and "'name'" in s for s in plan.sql)
    with pytest.raises(ProviderError, match="already exists"):
        await jsonb.write_rows(new, [{"id": 4, "name": "Ada"}], "insert", False)


# Through the service ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["flat_table", "jsonb"])
async def test_the_service_drives_the_postgres_providers(kind, pg_ds):
    """Create, write, import and change the schema through the data service's use cases
    (called directly: the HTTP layer for Postgres datasources is not this module's)."""
    from datasette_dataservice.service import apps, datasources, datatables, migrations
    from datasette_dataservice.service.core import service_for
    from datasette_dataservice.service.importer import import_rows
    from datasette_dataservice.service.writes import write_rows

    service = service_for(pg_ds)
    await apps.create_app(service, "", "root", {"name": "a"})
    body = {"name": "d", "provider_type": kind, "provider_config": {"engine": "postgres"}}
    await datasources.create_datasource(service, "", "root", "a", body)
    body = {"name": "people", "json_schema": copy.deepcopy(PEOPLE)}
    datatable = await datatables.create_datatable(service, "", "root", "a", "d", body)
    assert datatable["engine"] == "postgres" and datatable["is_materialized"]
    rows = [{"id": 1, "name": "Ada", "age": "36"}, {"id": 2, "name": "Alan", "age": "x"}]
    written = await write_rows(service, datatable, rows, returning=True)
    assert written.count == 2

    async def upload():
        yield b"id,name,age,gone\n3,Grace,85,\n1,Dup,1,\n4,Edsger,72,\n"

    status = await import_rows(
        service, datatable, upload(), format="csv", actor="root", on_invalid="skip"
    )
    assert (status.state, status.rows_written, status.rows_invalid) == ("done", 2, 1), status.errors
    to_integer = copy.deepcopy(PEOPLE)
    to_integer["fields"][2]["type"] = "integer"
    body = {"json_schema": to_integer}
    plan = await migrations.plan_schema_change(service, "", "a", "d", "people", body)
    change = plan["operations"][0]
    assert (change["failing_rows"], change["examples"]) == (1, [2])  # id, or document id
    assert plan["rebuild"] is (kind == "flat_table")
    body = {"json_schema": to_integer, "on_invalid": "set_null"}
    datatable = await migrations.change_schema(
        service, "", "root", "a", "d", "people", body, partial=False, expected_hash=None
    )
    assert datatable["schema_version"] == 2
    provider = service.provider_for(datatable)
    spec = datatables.table_spec(datatable)
    ages = {r["id"]: r["age"] for _, r in await read_all(provider, spec, ["id", "age"])}
    if kind == "flat_table":
        assert ages == {1: 36, 2: None, 3: 85, 4: 72}
    else:  # documents stay as written; the view reads what fits the new type
        assert ages == {1: "36", 2: "x", 3: "85", 4: "72"}
    assert await provider.count_rows(datatable["physical_table_name"]) == 4


@pytest.mark.parametrize("kind", ["flat_table", "jsonb"])
async def test_names_with_percent_signs_and_quotes(kind, target):
    """Identifiers are quoted everywhere, and parameterised statements use $n placeholders,
    so a "%" in a name is never taken for one."""
    provider = (PostgresFlatTable if kind == "flat_table" else PostgresJsonb)(target)
    odd = 'a "b" %s 50%'
    schema = {
        "fields": [
            {"name": odd, "type": "string", "constraints": {"enum": ["it's", "%s", "50%"]}},
            {"name": "n%", "type": "integer"},
        ],
        "primaryKey": odd,
    }
    spec = await materialized(provider, "myapp_odd", schema, [{odd: "it's", "n%": 1}])
    await provider.import_batches(
        spec, batches_of([{odd: "%s", "n%": 2}, {odd: "it's", "n%": 3}], 5), "upsert", False, print
    )
    await provider.write_rows(spec, [{odd: "50%", "n%": 4}], "insert", False)
    stored = await provider.rows_by_key(spec, [odd], [("it's",), ("%s",), ("50%",)])
    assert {k: v["n%"] for k, v in stored.items()} == {("it's",): 3, ("%s",): 2, ("50%",): 4}
    assert await provider.existing_values(spec, ("n%",), [2, 5]) == {2: None}
    key = {"_id": stored[("%s",)]["_id"]} if kind == "jsonb" else {odd: "%s"}
    assert await provider.delete_row(spec, key) is True
    new_schema = copy.deepcopy(schema)
    new_schema["fields"][1] = {"name": "n%", "type": "number", "constraints": {"minimum": 0}}
    new, _, _ = await migrate(provider, spec, new_schema, cast=lambda records: records)
    assert sorted(r["n%"] for _, r in await read_all(provider, new, ["n%"])) == [3, 4]
    assert await provider.has_schema(new, kind == "flat_table")
