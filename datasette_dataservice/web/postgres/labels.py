"""Foreign-key label expansion on Postgres-backed tables, as core's table view does it:
``?_labels=on`` (the default on HTML pages) or ``?_label=col`` turn a foreign key's value
into ``{"value": ..., "label": ...}``; ``expandable_columns`` lists the keys with the label
column core would pick. The SQL is in dataplane/postgres/labels.py."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import markupsafe
from datasette.resources import TableResource
from datasette.utils import tilde_encode, value_as_boolean

from ...dataplane.postgres import execute, introspect, labels
from ...providers.postgres_storage import PostgresTarget
from ...service.core import service_for
from .common import NO_FIELDS
from .render import generic


@dataclass
class Labels:
    """What one table's rows need for label expansion."""

    expandable: list[tuple[dict, str | None]]  # core's expandable_columns
    expanded: list[str] = field(default_factory=list)  # core's expanded_columns
    looked_up: bool = True  # False: labels were not asked for, so keys were not read


def wanted_columns(request, expandable: list[tuple[dict, Any]], default: bool) -> list[str]:
    """Core's choice of columns to expand: ``_label=`` if given, else all with ``_labels``."""
    try:
        all_labels = value_as_boolean(request.args.get("_labels", ""))
    except ValueError:
        all_labels = default
    if "_label" in request.args:
        return request.args.getlist("_label")
    return [fk["column"] for fk, _ in expandable] if all_labels else []


async def expandable_columns(
    datasette, target: PostgresTarget, database: str, table: str, conn
) -> list[tuple[dict, str | None]]:
    """``[(foreign_key, label_column)]`` as core's ``expandable_columns`` extra lists them."""
    limit_ms = execute.time_limit(datasette)
    fks = await labels.outbound_foreign_keys(conn, target.schema, table, limit_ms)
    by_relation = await introspect.catalog_fields(service_for(datasette), database)
    out: list[tuple[dict, str | None]] = []
    for fk in fks:
        out.append((fk, await label_column_of(datasette, target, database, fk, conn, by_relation)))
    return out


async def expandable_or_found(
    datasette, target: PostgresTarget, database: str, table: str, found: Labels
) -> list[tuple[dict, str | None]]:
    """The ``expandable_columns`` extra, read now unless ``expand`` has read it already."""
    if found.looked_up:
        return found.expandable
    async with execute.connection(target) as conn:
        return await expandable_columns(datasette, target, database, table, conn)


async def label_column_of(datasette, target, database, fk, conn, by_relation) -> str | None:
    other = fk["other_table"]
    configured = (await datasette.table_config(database, other)).get("label_column")
    relation = await introspect.relation(conn, target.schema, other)
    if relation is None:
        return None
    fields = by_relation.get(other, NO_FIELDS)
    limit_ms = execute.time_limit(datasette)
    return await labels.label_column(conn, target.schema, relation, fields, configured, limit_ms)


async def own_label_column(
    datasette, target: PostgresTarget, database: str, relation: introspect.Relation
) -> str | None:
    """The label column core picks for the table itself (its rows' ``data-row-label``)."""
    by_relation = await introspect.catalog_fields(service_for(datasette), database)
    configured = (await datasette.table_config(database, relation.name)).get("label_column")
    fields = by_relation.get(relation.name, NO_FIELDS)
    async with execute.connection(target) as conn:
        return await labels.label_column(
            conn, target.schema, relation, fields, configured, execute.time_limit(datasette)
        )


async def expand(
    datasette,
    request,
    target: PostgresTarget,
    database: str,
    table: str,
    rows: list[dict[str, Any]],
    columns: list[str],
    default: bool,
    every: bool = False,
    conn=None,
) -> Labels:
    """Rewrite ``rows`` in place as core does, for the columns the request asks to expand
    (``every``: all foreign keys whatever it asks, as core's row page does); on ``conn`` if
    given (a streaming CSV's own connection: one stream never holds two)."""
    # Nothing to look up unless labels were asked for (or are the page's default)
    asked = "_label" in request.args or request.args.get("_labels")
    if not (default or every or asked):
        return Labels([], looked_up=False)
    connected = contextlib.nullcontext(conn) if conn is not None else execute.connection(target)
    async with connected as conn:
        found = Labels(await expandable_columns(datasette, target, database, table, conn))
        if every:
            wanted = [fk["column"] for fk, _ in found.expandable]
        else:
            wanted = wanted_columns(request, found.expandable, default)
        if not wanted:
            return found
        expanded: dict[tuple[str, Any], Any] = {}
        for fk, label_column in found.expandable:
            column = fk["column"]
            if column not in wanted or column not in columns:
                continue
            found.expanded.append(column)
            values = [row[column] for row in rows]
            expanded.update(
                await _labels(datasette, request, target, database, conn, fk, label_column, values)
            )
    if expanded:
        for row in rows:
            for column in found.expanded:
                value = row[column]
                if value is not None and (column, value) in expanded:
                    row[column] = {"value": value, "label": expanded[(column, value)]}
    return found


async def _labels(datasette, request, target, database, conn, fk, label_column, values) -> dict:
    """Core's ``expand_foreign_keys``: nothing if the actor may not see the other table."""
    visible, _ = await datasette.check_visibility(
        request.actor,
        action="view-table",
        resource=TableResource(database=database, table=fk["other_table"]),
    )
    if not visible:
        return {}
    column = fk["column"]
    if not label_column:
        return {(column, value): str(value) for value in values}
    found = await labels.labels_for(
        conn,
        target.schema,
        fk["other_table"],
        fk["other_column"],
        label_column,
        values,
        execute.time_limit(datasette),
    )
    return {
        (column, generic(key)): generic(label) if label is not None else None
        for key, label in found
    }


def links(found: Labels) -> dict[str, str]:
    """Expanded column -> the table its values link to (HTML cells)."""
    return {
        fk["column"]: fk["other_table"]
        for fk, _ in found.expandable
        if fk["column"] in found.expanded
    }


def link(datasette, database: str, other_table: str, cell: dict[str, Any]) -> markupsafe.Markup:
    """An expanded key's HTML cell: a link to the referenced row, with its label."""
    label, value = cell["label"], cell["value"]
    href = "{}{}/{}/{}".format(
        datasette.urls.path("/"),
        tilde_encode(database),
        tilde_encode(other_table),
        tilde_encode(str(value)),
    )
    if label != value:
        return markupsafe.Markup('<a href="{}">{}</a>&nbsp;<em>{}</em>').format(
            href, str(label) or "-", value
        )
    return markupsafe.Markup('<a href="{}">{}</a>').format(href, value)
