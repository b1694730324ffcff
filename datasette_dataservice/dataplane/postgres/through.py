"""``?_through=`` on a Postgres-backed table: the rows that rows of another table refer to,
where that table's column holds the value, found as core finds them on SQLite
(``datasette.filters.through_filters``; parsing and refusals in ``dataplane/through.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datasette.utils.asgi import BadRequest

from ..through import NO_FOREIGN_KEY, Through, referring_key
from . import filters, introspect
from .introspect import Relation
from .sqltext import qualified, quote


@dataclass(frozen=True)
class ResolvedThrough:
    through: Through
    relation: Relation  # the referring table
    key: dict[str, Any]  # its foreign key to this table: column, other_table, other_column


async def resolve_throughs(
    conn, schema: str, table: str, throughs: list[Through]
) -> list[ResolvedThrough]:
    """Each ``_through``'s referring table and foreign key; a 400 as on SQLite when there is
    none or the column is not the table's."""
    resolved = []
    for through in throughs:
        relation = await introspect.relation(conn, schema, through.table)
        if relation is None:
            raise BadRequest(NO_FOREIGN_KEY)
        keys = await introspect.foreign_keys(conn, schema, [through.table, table])
        key = referring_key(keys[through.table]["outgoing"], table)
        if relation.column(through.column) is None:
            raise BadRequest(f"no such column: {through.column}")
        resolved.append(ResolvedThrough(through, relation, key))
    return resolved


def value_text(value: Any) -> str | None:
    """A JSON value as SQLite binds it, in the text the filters compare: true is 1."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def through_clause(where: filters.Where, schema: str, resolved: ResolvedThrough) -> str:
    """``our_column IN (SELECT their_column FROM theirs WHERE column = value)``, the value
    compared as the filters compare it (by the column's Table Schema type)."""
    through, key = resolved.through, resolved.key
    text = value_text(through.value)
    if text is None:
        return "FALSE"  # SQLite: = NULL is never true
    column = resolved.relation.column(through.column)
    condition = filters.compare(column, through.column, "=", where.add_param(text), text)
    return (
        f"{quote(key['other_column'])} IN (SELECT {quote(key['column'])}"
        f" FROM {qualified(schema, through.table)} WHERE {condition})"
    )
