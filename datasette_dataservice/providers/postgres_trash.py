"""Soft delete on PostgreSQL: a datasource's deleted tables live in its trash schema.

``ALTER TABLE ... SET SCHEMA`` moves a table with its indexes, constraints, identity sequence
and grants in O(1); the jsonb view moves with ``ALTER VIEW``. The trash schema grants nothing
to the datasource's reader role, so user SQL cannot read a row of it. Inside it every object
gets an opaque, random name (``h_...``), so the system catalogs (``pg_tables``, ``pg_class``,
``pg_indexes``...) do not name the deleted table either; the original names, and the foreign
keys to other tables (dropped while hidden, so a hidden table constrains no live one), are
kept in the trash schema's bookkeeping table and put back by a restore, in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets

import psycopg

from ..schema.names import quote_identifier as q
from .base import ProviderError

BOOKKEEPING = "_dataservice_hidden"


def trash_schema(schema: str) -> str:
    """``{schema}__trash_{hash}``: slugs hold no underscore, so no datasource's schema can
    look like this; it starts like the datasource's schema, so it shares its prefix."""
    digest = hashlib.sha1(schema.encode()).hexdigest()[:10]
    return f"{schema.encode()[:40].decode(errors='ignore')}__trash_{digest}"


def new_hidden_name() -> str:
    """Random, so a guessed table name cannot be confirmed by hashing it (``::regclass``)."""
    return "h_" + secrets.token_hex(8)


def _qualified(schema: str, name: str) -> str:
    return f"{q(schema)}.{q(name)}"


async def _rows(conn: psycopg.AsyncConnection, sql: str, params: list) -> list[tuple]:
    cursor = await conn.execute(sql, params)
    return await cursor.fetchall()


async def _bookkeeping_exists(conn: psycopg.AsyncConnection, trash: str) -> bool:
    rows = await _rows(conn, "SELECT to_regclass(%s) IS NOT NULL", [_qualified(trash, BOOKKEEPING)])
    return rows[0][0]


async def hide(
    conn: psycopg.AsyncConnection, schema: str, table: str, view: str | None
) -> list[str]:
    """Move ``table`` (and ``view``) into the trash schema under opaque names; the caller's
    transaction makes it all or nothing."""
    trash, hidden = trash_schema(schema), new_hidden_name()
    # Two deletes at once would both create the trash schema: one waits for the other.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [trash])
    oid = (await _rows(conn, "SELECT %s::regclass::oid", [_qualified(schema, table)]))[0][0]
    ran = [
        f"CREATE SCHEMA IF NOT EXISTS {q(trash)}",
        f"CREATE TABLE IF NOT EXISTS {_qualified(trash, BOOKKEEPING)} (hidden TEXT PRIMARY KEY,"
        " original TEXT NOT NULL UNIQUE, restore JSONB NOT NULL)",
    ]
    foreign_keys = await _rows(
        conn,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s"
        " AND contype = 'f' AND confrelid <> conrelid ORDER BY conname",
        [oid],
    )
    source = _qualified(schema, table)
    ran += [f"ALTER TABLE {source} DROP CONSTRAINT {q(name)}" for name, _ in foreign_keys]
    if view:
        ran.append(f"ALTER VIEW {_qualified(schema, view)} SET SCHEMA {q(trash)}")
    ran.append(f"ALTER TABLE {source} SET SCHEMA {q(trash)}")
    for statement in ran:
        await conn.execute(statement)

    renames = [("TABLE", table, hidden)]  # (kind, original, hidden), applied in order
    if view:
        renames.append(("VIEW", view, f"{hidden}_v"))
    for number, (kind, name) in enumerate(await _dependents(conn, oid)):
        renames.append((kind, name, f"{hidden}_{number}"))
    for kind, original, new in renames:
        statement = _rename(trash, kind, original, new, hidden)
        await conn.execute(statement)
        ran.append(statement)
    restore = {
        "renames": renames,
        "foreign_keys": [[name, definition] for name, definition in foreign_keys],
    }
    await conn.execute(
        f"INSERT INTO {_qualified(trash, BOOKKEEPING)} VALUES (%s, %s, %s::jsonb)",
        [hidden, table, json.dumps(restore)],
    )
    return ran


async def _dependents(conn: psycopg.AsyncConnection, oid: int) -> list[tuple[str, str]]:
    """Everything of the table that carries a name: constraints (with the indexes behind
    them), other indexes, identity and serial sequences."""
    constraints = await _rows(
        conn, "SELECT conname FROM pg_constraint WHERE conrelid = %s ORDER BY conname", [oid]
    )
    indexes = await _rows(
        conn,
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
        " WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid) ORDER BY 1",
        [oid],
    )
    sequences = await _rows(
        conn,
        "SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid"
        " WHERE d.refobjid = %s AND s.relkind = 'S' AND d.deptype IN ('a', 'i') ORDER BY 1",
        [oid],
    )
    return (
        [("CONSTRAINT", name) for (name,) in constraints]
        + [("INDEX", name) for (name,) in indexes]
        + [("SEQUENCE", name) for (name,) in sequences]
    )


def _rename(schema: str, kind: str, old: str, new: str, table: str) -> str:
    if kind == "CONSTRAINT":
        return f"ALTER TABLE {_qualified(schema, table)} RENAME CONSTRAINT {q(old)} TO {q(new)}"
    return f"ALTER {kind} {_qualified(schema, old)} RENAME TO {q(new)}"


async def unhide(
    conn: psycopg.AsyncConnection, schema: str, table: str, view: str | None
) -> list[str]:
    """Undo :func:`hide`: original names, the served schema, the foreign keys (validated)."""
    trash = trash_schema(schema)
    found = await _hidden_as(conn, trash, table)
    if found is None:
        raise ProviderError(f'table "{table}" is not in the trash; nothing to restore')
    hidden, restore = found
    ran = [  # the table's own name comes back last: constraints are renamed on "hidden"
        _rename(trash, kind, new, original, hidden)
        for kind, original, new in reversed(restore["renames"])
    ]
    ran.append(f"ALTER TABLE {_qualified(trash, table)} SET SCHEMA {q(schema)}")
    if view:
        ran.append(f"ALTER VIEW {_qualified(trash, view)} SET SCHEMA {q(schema)}")
    ran += [
        f"ALTER TABLE {_qualified(schema, table)} ADD CONSTRAINT {q(name)} {definition}"
        for name, definition in restore["foreign_keys"]
    ]
    for statement in ran:
        await conn.execute(statement)
    await conn.execute(f"DELETE FROM {_qualified(trash, BOOKKEEPING)} WHERE hidden = %s", [hidden])
    return ran


async def _hidden_as(
    conn: psycopg.AsyncConnection, trash: str, table: str
) -> tuple[str, dict] | None:
    """The hidden name of ``table`` and what restores it, or None if it is not hidden."""
    if not await _bookkeeping_exists(conn, trash):
        return None
    rows = await _rows(
        conn,
        f"SELECT hidden, restore FROM {_qualified(trash, BOOKKEEPING)} WHERE original = %s",
        [table],
    )
    return rows[0] if rows else None


async def drop_hidden(
    conn: psycopg.AsyncConnection, schema: str, table: str, view: str | None
) -> list[str]:
    trash = trash_schema(schema)
    found = await _hidden_as(conn, trash, table)
    if found is None:
        return []
    hidden = found[0]
    ran = [f"DROP VIEW IF EXISTS {_qualified(trash, hidden + '_v')}"] if view else []
    ran.append(f"DROP TABLE {_qualified(trash, hidden)}")
    for statement in ran:
        await conn.execute(statement)
    await conn.execute(f"DELETE FROM {_qualified(trash, BOOKKEEPING)} WHERE hidden = %s", [hidden])
    return ran


async def placement(conn: psycopg.AsyncConnection, schema: str, table: str) -> set[str]:
    found = set()
    served = await _rows(conn, "SELECT to_regclass(%s)", [_qualified(schema, table)])
    if served[0][0] is not None:
        found.add("served")
    if await _hidden_as(conn, trash_schema(schema), table) is not None:
        found.add("hidden")
    return found
