"""What a Postgres-backed table or row page hands core's JavaScript, as core's table view
builds it: ``window._datasetteTableData`` (edit-tools.js: the table's URL and, where the
actor may insert, core's ``insertRow`` form data from core's own ``_table_insert_ui``),
and the extra wheres list."""

from __future__ import annotations

from typing import Any

from datasette.utils import path_with_removed_args
from datasette.views.table import _table_insert_ui

from ...dataplane.postgres.introspect import Relation
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
    return data


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
