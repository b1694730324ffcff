"""Filters and sorts compare as the Table Schema's types say, alike on {flat_table, jsonb} x
{sqlite, postgres} (ISSUE 14, item 3): a jsonb view's columns compare like the flat table's.

On SQLite a flat_table column has its type's affinity, so core's ``?born__gt=2025`` (bound as
the integer 2025) compares as text with a TEXT date; the jsonb view's columns are CAST to the
same types to carry the same affinities. Datetimes here are written in UTC ("Z"): SQLite keeps
the text as written, PostgreSQL normalises an offset to UTC (see the README).
"""

from __future__ import annotations

import sqlite3

import pytest
import pytest_asyncio
from conftest import RUN_PREFIX, _schema_numbers, close_data_service, make_datasette, path_of
from test_contract import COMBINATIONS, Service, start_service

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "qty", "type": "integer"},
        {"name": "price", "type": "number"},
        {"name": "year", "type": "year"},
        {"name": "active", "type": "boolean"},
        {"name": "born", "type": "date"},
        {"name": "seen", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}
COLUMNS = ["id", "name", "qty", "price", "year", "active", "born", "seen"]
ROWS = [
    dict(zip(COLUMNS, values, strict=True))
    for values in [
        (1, "Ada", 5, 9.5, 1999, True, "1815-12-10", "2024-01-02T03:04:05Z"),
        (2, "10", -3, 3, 2025, False, None, "2023-12-31T23:59:59Z"),
        (3, "brian", None, None, 2026, None, "2001-01-01", "2024-05-06T07:08:09Z"),
        (4, "2", 12, 120.25, 2030, True, "2031-02-03", None),
        (5, "Cleo", 0, 0.5, None, False, "2025-06-30", "2026-01-01T00:00:00Z"),
        (6, "Éva", 100, -2, 2000, True, "1999-09-09", "2025-07-04T12:00:00.500000Z"),
    ]
]

# (query, ids): filters by the ids as a set, sorts by the ids in order
FILTERS = [
    ("qty__gt=4", [1, 4, 6]),
    ("qty__lt=0", [2]),
    ("qty__gte=12", [4, 6]),
    ("qty__lte=0", [2, 5]),
    ("qty=5", [1]),
    ("qty__in=0,12,7", [4, 5]),
    ("price__gt=3", [1, 4]),
    ("price__lt=0.5", [6]),
    ("price__gte=3", [1, 2, 4]),
    ("price__lte=0.5", [5, 6]),
    ("price=120.25", [4]),
    ("price__in=3,0.5", [2, 5]),
    ("year__gt=2025", [3, 4]),
    ("year__lt=2000", [1]),
    ("year__gte=2025", [2, 3, 4]),
    ("year__lte=2000", [1, 6]),
    ("year=2026", [3]),
    ("year__in=1999,2030", [1, 4]),
    ("active=1", [1, 4, 6]),
    ("active=0", [2, 5]),
    ("active__gt=0", [1, 4, 6]),
    ("active__lt=1", [2, 5]),
    ("active__gte=1", [1, 4, 6]),
    ("active__lte=0", [2, 5]),
    ("active__in=0", [2, 5]),
    ("born__gt=2025", [4, 5]),
    ("born__lt=2000", [1, 6]),
    ("born__gte=2001-01-01", [3, 4, 5]),
    ("born__lte=2001", [1, 6]),
    ("born=2001-01-01", [3]),
    ("born__in=1999-09-09,2031-02-03", [4, 6]),
    ("seen__gt=2025", [5, 6]),
    ("seen__lt=2024", [2]),
    ("seen__gte=2024-05-06T07:08:09Z", [3, 5, 6]),
    ("seen__lte=2024", [2]),
    ("seen=2024-01-02T03:04:05Z", [1]),
    ("seen__in=2026-01-01T00:00:00Z,2023-12-31T23:59:59Z", [2, 5]),
    ("name__gt=5", [1, 3, 5, 6]),
    ("name__lt=3", [2, 4]),
]
SORTS = [
    ("_sort=qty&qty__gt=-5", [2, 5, 1, 4, 6]),
    ("_sort_desc=price&price__lte=10", [1, 2, 5, 6]),
    ("_sort=year&year__gte=2000", [6, 2, 3, 4]),
    ("_sort_desc=born&born__gt=1900", [4, 5, 3, 6]),
    ("_sort=seen&seen__gt=2024", [1, 3, 6, 5]),
    ("_sort=name&name__gt=3", [1, 5, 3, 6]),
]


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=COMBINATIONS,
    ids=["-".join(c) for c in COMBINATIONS],
)
async def service(request, tmp_path_factory):
    """One stocked service per combination, shared by the (read-only) cases."""
    provider, engine = request.param
    config = {}
    if engine == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        prefix = f"{RUN_PREFIX}typed{next(_schema_numbers)}_"
        config = {"main": {"dsn": dsn, "schema_prefix": prefix}}
    started = await start_service(
        tmp_path_factory.mktemp(provider), provider, engine, config, schema=SCHEMA
    )
    response = await started.insert(ROWS)
    assert response.status_code == 201, response.text
    yield started
    await close_data_service(started.ds)


@pytest.mark.parametrize("query, ids", FILTERS, ids=[q for q, _ in FILTERS])
async def test_filter_matches_the_same_rows(service, query, ids):
    rows = await service.rows(f"&_size=max&{query}")
    assert sorted(r["id"] for r in rows) == ids


@pytest.mark.parametrize("query, ids", SORTS, ids=[q for q, _ in SORTS])
async def test_sort_orders_the_same_rows(service, query, ids):
    rows = await service.rows(f"&_size=max&{query}")
    assert [r["id"] for r in rows] == ids


async def test_start_up_rewrites_a_view_an_earlier_release_wrote(tmp_path):
    """A jsonb view written before its columns were typed (plain json_extract) is rewritten
    when the service starts, so an unchanged datatable compares as a new one does."""
    data_dir = tmp_path / "data"
    started = await start_service(data_dir, "jsonb", "sqlite", None, schema=SCHEMA)
    assert (await started.insert(ROWS)).status_code == 201
    await close_data_service(started.ds)
    view = path_of(started.datatable["json_url"]).rsplit("/", 1)[-1].removesuffix(".json")
    columns = ", ".join(f"json_extract(data, '$.{c}') AS {c}" for c in COLUMNS)
    with sqlite3.connect(data_dir / "jsonb-sqlite" / f"{started.datatable['database']}.db") as db:
        db.execute(f"DROP VIEW {view}")
        db.execute(f"CREATE VIEW {view} AS SELECT id AS _id, {columns} FROM {view[:-5]}")
    again = make_datasette(data_dir / "jsonb-sqlite")
    await again.invoke_startup()
    try:
        headers = {"Authorization": f"Bearer {await again.create_token('root')}"}
        restarted = Service(again, headers, "jsonb", "sqlite", started.datatable)
        rows = await restarted.rows("&_size=max&born__gt=2025")
        assert sorted(r["id"] for r in rows) == [4, 5]
    finally:
        await close_data_service(again)
