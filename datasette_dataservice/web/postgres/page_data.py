"""What a Postgres-backed table or row page hands core's JavaScript, as core's table view
builds it: ``window._datasetteTableData`` (edit-tools.js: the table's URL and, where the
actor may insert, core's ``insertRow`` form data from core's own ``_table_insert_ui``;
autocomplete.js: ``foreignKeys``, each key column's ``/-/autocomplete`` URL), and the extra
wheres list."""

from __future__ import annotations

from typing import Any

from datasette.resources import TableResource
from datasette.utils import path_with_removed_args
from datasette.views.table import _table_insert_ui

from ...dataplane.postgres import execute, introspect, labels
from ...dataplane.postgres.introspect import Relation
from ...service.core import service_for
from ..database_urls import Urls
from . import extras


class _PageUrls:
    """``datasette.urls`` whose ``database`` and ``table`` know Postgres-backed databases."""

    def __init__(self, datasette):
        self._urls, self._own = datasette.urls, Urls(datasette)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._urls, name)

    def database(self, database: str, format: str | None = None) -> str:
        return self._own.database(database, format)

    def table(self, database: str, table: str, format: str | None = None) -> str:
        return self._own.table(database, table, format)


class _FormDatasette(extras.PageDatasette):
    @property
    def urls(self):
        return _PageUrls(self._datasette)


class _Writable:
    """Core's ``Database`` as ``_table_insert_ui`` reads it: a Postgres-backed table takes
    writes (web/core_writes.py) and has the columns the page's relation has."""

    is_mutable = True

    def __init__(self, columns):
        self._columns = columns

    async def table_column_details(self, table: str):
        return self._columns


async def table_page_data(
    datasette, request, database: str, relation: Relation, insert: bool = True
) -> dict[str, Any]:
    """``_datasetteTableData``; ``insert``: with the insert form's data (the table page)."""
    data: dict[str, Any] = {
        "database": database,
        "table": relation.name,
        "tableUrl": Urls(datasette).table(database, relation.name),
    }
    if insert and not relation.is_view:
        types = await extras.field_types(datasette, database, relation)
        columns = list(extras.column_objects(relation, types).values())
        pks = [] if relation.pks == ["rowid"] else relation.pks
        form = await _table_insert_ui(
            _FormDatasette(datasette, database, relation),
            request,
            _Writable(columns),
            database,
            relation.name,
            relation.is_view,
            pks,
        )
        if form:
            data["insertRow"] = form
    if not relation.is_view:
        foreign_keys = await autocomplete_urls(datasette, request, database, relation)
        if foreign_keys:
            data["foreignKeys"] = foreign_keys
    return data


async def autocomplete_urls(
    datasette, request, database: str, relation: Relation
) -> dict[str, str]:
    """Core's ``_foreign_key_autocomplete_urls``: each foreign key column whose other table
    is a table with a one-column primary key it references, that the actor may see."""
    service = service_for(datasette)
    target = service.postgres_target(database)
    if target is None:
        return {}
    out: dict[str, str] = {}
    async with execute.connection(target) as conn:
        limit_ms = execute.time_limit(datasette)
        fks = await labels.outbound_foreign_keys(conn, target.schema, relation.name, limit_ms)
    for fk in fks:
        other = await introspect.cached_relation(
            service, lambda: execute.connection(target), target.schema, fk["other_table"]
        )
        if other is None or other.is_view:
            continue
        other_pks = [] if other.pks == ["rowid"] else other.pks  # as core sees a rowid table
        if other_pks != [fk["other_column"]]:
            continue
        visible, _ = await datasette.check_visibility(
            request.actor,
            action="view-table",
            resource=TableResource(database=database, table=fk["other_table"]),
        )
        if visible:
            out[fk["column"]] = Urls(datasette).table(database, fk["other_table"]) + (
                "/-/autocomplete"
            )
    return out


def extra_wheres(request) -> list[dict[str, str]]:
    """Core's ``extra_wheres_for_ui``: each ``?_where=`` with a link that removes it."""
    return [
        {"text": text, "remove_url": path_with_removed_args(request, {"_where": text})}
        for text in request.args.getlist("_where")
    ]


def row_buttons(
    permissions: dict[str, bool], row_path: str, pk_path: str, row_label: str | None
) -> list[dict[str, Any]]:
    """The row page's "Edit row" and "Delete row" menu items (edit-tools.js opens them),
    as core's row view lists them before the ``row_actions`` hooks' items."""
    label = f"{pk_path} {row_label}" if row_label and row_label != pk_path else pk_path
    out = []
    for action, verb, description in (
        ("update-row", "Edit", "Open a dialog to edit this row."),
        ("delete-row", "Delete", "Open a confirmation dialog to delete this row."),
    ):
        if not permissions.get(action):
            continue
        attrs = {
            "aria-label": f"{verb} row {label}",
            "data-row": row_path,
            "data-row-action": verb.lower(),
        }
        if row_label:
            attrs["data-row-label"] = row_label
        out.append(
            {"type": "button", "label": f"{verb} row", "description": description, "attrs": attrs}
        )
    return out
