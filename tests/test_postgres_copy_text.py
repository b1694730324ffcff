"""COPY of validated rows (providers/postgres_rows.copy_into) stores exactly what psycopg's
per-row ``write_row`` stored before it: edge values of every column type, compared with a
table the old path wrote, and the same refusals."""

from __future__ import annotations

import psycopg
import pytest
import pytest_asyncio
from conftest import RUN_PREFIX

from datasette_dataservice.providers.base import ProviderError
from datasette_dataservice.providers.postgres_ddl import column_type
from datasette_dataservice.providers.postgres_rows import copy_into
from datasette_dataservice.providers.postgres_values import row_values
from datasette_dataservice.schema.names import quote_identifier as q

pytestmark = pytest.mark.asyncio

FIELDS = [
    {"name": "i", "type": "integer"},
    {"name": "n", "type": "number"},
    {"name": "b", "type": "boolean"},
    {"name": "s", "type": "string"},
    {"name": "d", "type": "date"},
    {"name": "dt", "type": "datetime"},
    {"name": "t", "type": "time"},
    {"name": "o", "type": "object"},
    {"name": "a", "type": "array"},
    {"name": "y", "type": "year"},
    {"name": "tab\tand %s", "type": "string"},
]
EDGES = [
    [2**63 - 1, 0.1, True, "tab\there", "2024-02-29", "2024-01-01T00:00:00Z", "00:00:00Z"],
    [-(2**63), 1e-7, False, "new\nline\r\nand \\ back\\slash \\N", "0001-01-01"],
    [0, 123456789.123456789, None, "", "9999-12-31", "9999-12-31T20:00:00-03:00"],
    [None, -0.0, True, "\\.", None, "0001-01-01T05:00:00+04:00", "23:59:59.999999+14:00"],
    [1, 2.5e300, False, "ünïcödé ✓ 😀", "2000-01-01", "2024-06-01T12:30:45.123456+05:30"],
    [None, 10, None, "\\\t\n", None, None, "12:00:00-08:00"],
]
OBJECTS = [{"k": "v\t\n\\", "n": [1, 2.5, None, True]}, {}, None, {"deep": {"x": "\\u0000"}}]
ARRAYS = [[1, "two\\", {"three": 3}], [], None, ["\n"]]


def edge_rows() -> list[dict]:
    rows = []
    for n, edge in enumerate(EDGES):
        values = [*edge, *[None] * (7 - len(edge))]
        values += [OBJECTS[n % 4], ARRAYS[n % 4], [None, 1, 2024, -5][n % 4], edge[3]]
        rows.append(dict(zip([f["name"] for f in FIELDS], values, strict=True)))
    return rows * 3000  # past psycopg's 32 kB buffer several times


async def _old_copy(conn, table: str, columns: list[str], values: list) -> None:
    """The path before: one awaited write_row per row."""
    async with conn.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(q(c) for c in columns)}) FROM STDIN"
        async with cursor.copy(sql) as copy:
            for row in values:
                await copy.write_row(row)


@pytest_asyncio.fixture
async def conn(postgres_dsn):
    schema = f"{RUN_PREFIX}copytext"
    async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
        columns = ", ".join(f"{q(f['name'])} {column_type(f)}" for f in FIELDS)
        for name in ("old", "new"):
            await conn.execute(f"CREATE TABLE {q(schema)}.{name} (seq SERIAL, {columns})")
        await conn.execute("SET TIME ZONE 'UTC'")
        yield conn, schema
        await conn.rollback()


async def test_copy_stores_what_write_row_stored(conn) -> None:
    conn, schema = conn
    columns = [f["name"] for f in FIELDS]
    values = row_values(FIELDS, edge_rows(), copy=True)
    await _old_copy(conn, f"{q(schema)}.old", columns, values)
    await copy_into(conn, f"{q(schema)}.new", columns, values)
    texts = ", ".join(q(c) + "::text" for c in columns)
    read = f"SELECT {texts} FROM {q(schema)}.{{}} ORDER BY seq"
    old = await (await conn.execute(read.format("old"))).fetchall()
    new = await (await conn.execute(read.format("new"))).fetchall()
    assert len(new) == len(EDGES) * 3000
    assert new == old
    assert new[0][0] == str(2**63 - 1) and new[1][3] == "new\nline\r\nand \\ back\\slash \\N"


@pytest.mark.parametrize(
    "row, error",
    [
        ({"s": "nul \x00 here"}, psycopg.DataError),
        ({"dt": "9999-12-31T20:00:00-05:00"}, ProviderError),
        ({"dt": "0001-01-01T01:00:00+02:00"}, ProviderError),
        ({"i": "not a number"}, psycopg.errors.InvalidTextRepresentation),
    ],
)
async def test_copy_refuses_what_write_row_refused(conn, row: dict, error: type) -> None:
    conn, schema = conn
    columns = [f["name"] for f in FIELDS]
    rows = edge_rows()[:100]
    rows[57] = {**rows[57], **row}
    messages = []
    for write, table in ((_old_copy, "old"), (copy_into, "new")):
        with pytest.raises(error) as raised:
            async with conn.transaction():
                values = row_values(FIELDS, rows, copy=True)
                await write(conn, f"{q(schema)}.{table}", columns, values)
        messages.append(str(raised.value).replace(table, "T"))
    assert messages[0] == messages[1]
