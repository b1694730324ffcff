"""Soft delete on SQLite: a datasource's deleted tables live in its trash file.

The trash file (``{database}.trash.db`` beside the datasource's file) is never attached to
Datasette, so no query, listing or URL reaches it. A table moves with its exact CREATE
statements (table, indexes, triggers, the jsonb view) and its rows, rowids included. The two
files commit one after the other (a multi-file transaction is not atomic in WAL mode): the copy
lands first, the original goes second, so a crash in between leaves two complete copies, never
none; recovery keeps the one the catalog names (service.recovery).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..schema.names import quote_identifier as q

TRASH = "dataservice_trash"
# CREATE order: a view after its table, an index after its table.
KIND_ORDER = {"table": 0, "index": 1, "trigger": 2, "view": 3}


def trash_path(database_path: str) -> str:
    """``data/shop_main.db`` -> ``data/shop_main.trash.db``."""
    path = Path(database_path)
    return str(path.with_name(path.stem + ".trash.db"))


def objects_of(conn: sqlite3.Connection, schema: str, names: list[str]) -> list[tuple[str, str]]:
    """(kind, name, CREATE statement) of each table or view in ``names`` and what belongs to
    it, in creation order. Automatic indexes (UNIQUE, PRIMARY KEY) come with their table."""
    placeholders = ", ".join("?" for _ in names)
    rows = conn.execute(
        f"SELECT type, name, sql FROM {q(schema)}.sqlite_master"
        f" WHERE tbl_name IN ({placeholders}) AND sql IS NOT NULL",
        names,
    ).fetchall()
    return sorted(rows, key=lambda row: KIND_ORDER[row[0]])


def names_present(conn: sqlite3.Connection, schema: str, names: list[str]) -> bool:
    placeholders = ", ".join("?" for _ in names)
    return (
        conn.execute(
            f"SELECT 1 FROM {q(schema)}.sqlite_master WHERE lower(name) IN ({placeholders})",
            [n.lower() for n in names],
        ).fetchone()
        is not None
    )


def copy_rows(conn: sqlite3.Connection, table: str, source: str, target: str) -> None:
    """Every row of ``source.table`` into ``target.table``, rowids included."""
    columns = [row[1] for row in conn.execute(f"PRAGMA {q(source)}.table_info({q(table)})")]
    taken = {c.lower() for c in columns}
    rowid = next(n for n in ("rowid", "_rowid_", "oid") if n not in taken)
    names = ", ".join([rowid, *(q(c) for c in columns)])
    conn.execute(
        f"INSERT INTO {q(target)}.{q(table)} ({names}) SELECT {names} FROM {q(source)}.{q(table)}"
    )


def drop_objects(conn: sqlite3.Connection, schema: str, objects: list[tuple[str, str, str]]):
    """Drop the views and tables among ``objects`` (indexes and triggers go with them)."""
    for kind, name, _ in reversed(objects):
        if kind in ("view", "table"):
            conn.execute(f"DROP {kind.upper()} {q(schema)}.{q(name)}")


def hide(conn: sqlite3.Connection, database_path: str, table: str, names: list[str]) -> list[str]:
    """Move ``names`` (the table and its view) from the served file to the trash file.

    ``conn`` is the served file's write connection, so no other write interleaves.
    """
    objects = objects_of(conn, "main", names)
    trash = sqlite3.connect(trash_path(database_path), isolation_level=None)
    try:
        trash.execute("ATTACH DATABASE ? AS served", [database_path])
        trash.execute("BEGIN IMMEDIATE")
        drop_objects(trash, "main", objects_of(trash, "main", names))  # a stale copy
        for _, _, sql in objects:
            trash.execute(sql)
        copy_rows(trash, table, "served", "main")
        trash.execute("COMMIT")
    finally:
        trash.close()
    _drop_without_foreign_keys(conn, "main", objects)
    return [sql for _, _, sql in objects]


def unhide(conn: sqlite3.Connection, database_path: str, table: str, names: list[str]) -> list[str]:
    """Move ``names`` back from the trash file; the rows' foreign keys are checked on the way."""
    conn.execute("ATTACH DATABASE ? AS " + TRASH, [trash_path(database_path)])
    try:
        objects = objects_of(conn, TRASH, names)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("PRAGMA defer_foreign_keys = ON")  # a row may reference a later one
            for _, _, sql in objects:
                conn.execute(sql)  # unqualified: created in the served file
            copy_rows(conn, table, TRASH, "main")
        _drop_without_foreign_keys(conn, TRASH, objects)
    finally:
        conn.execute("DETACH DATABASE " + TRASH)
    return [sql for _, _, sql in objects]


def drop_hidden(conn: sqlite3.Connection, database_path: str, names: list[str]) -> None:
    conn.execute("ATTACH DATABASE ? AS " + TRASH, [trash_path(database_path)])
    try:
        _drop_without_foreign_keys(conn, TRASH, objects_of(conn, TRASH, names))
    finally:
        conn.execute("DETACH DATABASE " + TRASH)


def placement(conn: sqlite3.Connection, database_path: str, names: list[str]) -> set[str]:
    found = {"served"} if names_present(conn, "main", names[:1]) else set()
    if Path(trash_path(database_path)).exists():
        conn.execute("ATTACH DATABASE ? AS " + TRASH, [trash_path(database_path)])
        try:
            if names_present(conn, TRASH, names[:1]):
                found.add("hidden")
        finally:
            conn.execute("DETACH DATABASE " + TRASH)
    return found


def _drop_without_foreign_keys(conn: sqlite3.Connection, schema: str, objects) -> None:
    """Drop ``objects`` in one transaction. Foreign keys are off meanwhile: dropping a table
    deletes its rows first, which other tables' keys (in the trash: deleted tables') would
    refuse, although what references it is either gone or going too."""
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            drop_objects(conn, schema, objects)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
