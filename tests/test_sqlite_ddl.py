"""Table Schema -> SQLite DDL, checked on the conformance fixtures frictionless writes to SQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from datasette_dataservice.providers.base import TableSpec
from datasette_dataservice.providers.sqlite_ddl import flat_table_sql, jsonb_sql

STORAGE = Path(__file__).resolve().parent / "fixtures/frictionless/frictionless-py/data/storage"


def package(name: str) -> dict:
    path = STORAGE / f"{name}.json"
    assert path.exists(), f"conformance fixture missing: {path}"
    return json.loads(path.read_text())


def materialize(conn: sqlite3.Connection, descriptor: dict) -> None:
    for resource in descriptor["resources"]:
        spec = TableSpec(
            physical_name=resource["name"],
            schema=resource["schema"],
            resolve_reference=lambda ref, own=resource["name"]: ref or own,
        )
        conn.execute(flat_table_sql(spec))


@pytest.fixture
def conn():
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA foreign_keys = ON")
    yield conn
    conn.close()


def test_types_fixture_gets_typed_strict_columns(conn):
    materialize(conn, package("types"))
    table = sqlite_utils.Database(conn)["types"]
    assert table.strict
    assert {c.name: c.type for c in table.columns} == {
        "any": "ANY",
        "array": "TEXT",
        "boolean": "INTEGER",
        "date": "TEXT",
        "date_year": "TEXT",
        "datetime": "TEXT",
        "duration": "TEXT",
        "geojson": "TEXT",
        "geopoint": "TEXT",
        "integer": "INTEGER",
        "number": "REAL",
        "object": "TEXT",
        "string": "TEXT",
        "time": "TEXT",
        "year": "INTEGER",
        "yearmonth": "TEXT",
    }


def test_strict_table_refuses_a_string_in_an_integer_column(conn):
    materialize(conn, package("types"))
    with pytest.raises(sqlite3.IntegrityError, match="cannot store TEXT value in INTEGER"):
        conn.execute('INSERT INTO types ("integer") VALUES (?)', ("abc",))


@pytest.mark.parametrize(
    "column, value",
    [("boolean", 2), ("object", "[1, 2]"), ("array", '{"a": 1}'), ("geojson", "not json")],
)
def test_boolean_and_json_columns_are_checked(conn, column, value):
    materialize(conn, package("types"))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        conn.execute(f'INSERT INTO types ("{column}") VALUES (?)', (value,))


def test_constraints_fixture_row_fits_and_each_constraint_bites(conn):
    materialize(conn, package("constraints"))
    valid = dict(
        required="passing",
        minLength="passing",
        maxLength="passing",
        pattern="passing",
        enum="passing",
        minimum=5,
        maximum=5,
    )
    db = sqlite_utils.Database(conn)
    db["constraints"].insert(valid)
    for column, bad in [
        ("required", None),
        ("minLength", "abc"),
        ("maxLength", "123456789"),
        ("enum", "failing"),
        ("minimum", 3),
        ("maximum", 9),
    ]:
        with pytest.raises(sqlite3.IntegrityError):
            db["constraints"].insert({**valid, column: bad})
    assert db["constraints"].count == 1


def test_integrity_fixture_keys(conn):
    materialize(conn, package("integrity"))
    db = sqlite_utils.Database(conn)
    main, link = db["integrity_main"], db["integrity_link"]
    assert main.pks == ["id"]
    assert link.pks == ["main_id", "some_id"]
    assert {(fk.column, fk.other_table, fk.other_column) for fk in main.foreign_keys} == {
        ("parent", "integrity_main", "id")
    }
    assert {(fk.column, fk.other_table, fk.other_column) for fk in link.foreign_keys} == {
        ("main_id", "integrity_main", "id")
    }
    main.insert_all([{"id": 1, "parent": None, "description": "english"}])
    main.insert({"id": 2, "parent": 1, "description": "中国人"})
    link.insert({"main_id": 1, "some_id": 1, "description": "note1"})
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        main.insert({"id": 3, "parent": 99, "description": "orphan"})
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        link.insert({"main_id": 2, "some_id": 2, "description": "note1"})
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        link.insert({"main_id": None, "some_id": 5, "description": "no key"})


def test_names_that_need_quoting_are_quoted(conn):
    schema = {
        "fields": [
            {"name": 'x"; drop table y; --', "type": "string", "constraints": {"enum": ["a'b"]}},
            {"name": "select", "type": "integer"},
        ]
    }
    conn.execute("CREATE TABLE y (id INTEGER)")
    conn.execute(flat_table_sql(TableSpec("order", schema)))
    conn.execute("""INSERT INTO "order" VALUES ('a''b', 1)""")
    assert conn.execute('SELECT * FROM "order"').fetchall() == [("a'b", 1)]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'y'").fetchone()


def test_jsonb_view_exposes_each_field_as_a_column(conn):
    schema = {
        "fields": [
            {"name": "kind", "type": "string"},
            {"name": "count", "type": "integer"},
            {"name": 'odd "name".with.dots', "type": "boolean"},
        ]
    }
    for statement in jsonb_sql(TableSpec("events", schema)):
        conn.execute(statement)
    document = {"kind": "login", "count": 3, 'odd "name".with.dots': True}
    conn.execute("INSERT INTO events (data) VALUES (?)", (json.dumps(document),))
    cursor = conn.execute("SELECT * FROM events_view")
    assert [d[0] for d in cursor.description] == ["_id", "kind", "count", 'odd "name".with.dots']
    assert cursor.fetchall() == [(1, "login", 3, 1)]
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO events (data) VALUES ('[1, 2]')")


def test_jsonb_view_columns_compare_like_the_flat_tables(conn):
    """Each view column has its flat_table column's affinity, so a filter's parameter (text
    or a number, as core binds it) compares with it as with the flat_table's column; a value
    of another JSON type reads as NULL."""
    kinds = ["string", "integer", "number", "boolean", "year", "date", "datetime", "time"]
    kinds += ["object", "array", "any"]
    schema = {"fields": [{"name": kind, "type": kind} for kind in kinds]}
    conn.execute(flat_table_sql(TableSpec("flat", schema)))
    for statement in jsonb_sql(TableSpec("docs", schema)):
        conn.execute(statement)
    values = ["b", 7, 2.5, 1, 2025, "2025-06-30", "2025-06-30T01:02:03Z", "01:02:03"]
    values += ['{"a": 1}', "[1]", 4]
    conn.execute(f"INSERT INTO flat VALUES ({', '.join('?' * len(kinds))})", values)
    document = dict(zip(kinds, values, strict=True))
    document.update(boolean=True, object={"a": 1}, array=[1])
    conn.execute("INSERT INTO docs (data) VALUES (?)", (json.dumps(document),))
    for kind in kinds:
        column = f'"{kind}"'
        for parameter in [2025, "2025", 7, "7", 2.5, "b", "2025-06-30", 1, "1", 4]:
            for operator in ["=", ">", "<"]:
                where = f"{column} {operator} ?"
                flat = conn.execute(f"SELECT count(*) FROM flat WHERE {where}", [parameter])
                view = conn.execute(f"SELECT count(*) FROM docs_view WHERE {where}", [parameter])
                assert view.fetchone() == flat.fetchone(), (kind, operator, parameter)
    other_types = {k: 1.5 if k in {"string", "date", "datetime", "time"} else "x" for k in kinds}
    other_types.update(object=[1], array={"a": 1}, any=None, integer=1.5, year=True)
    conn.execute("INSERT INTO docs (data) VALUES (?)", (json.dumps(other_types),))
    row = conn.execute("SELECT * FROM docs_view WHERE _id = 2").fetchone()
    assert row == (2, *[None] * len(kinds))
