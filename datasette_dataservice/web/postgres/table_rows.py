"""The body rows of a Postgres-backed table or row page as core's
``display_columns_and_rows`` (views/table.py) draws them for core's ``_table.html``: core's
``Row`` objects (``data-row`` / ``data-row-label``, which edit-tools.js reads), the link
column with the inline edit and delete buttons the actor may use, expanded foreign keys,
URLs as links, ``render_cell`` hooks' cells (cells.py calls them)."""

from __future__ import annotations

from typing import Any

import markupsafe
from datasette.resources import TableResource
from datasette.utils import is_url, path_from_row_pks, truncate_url
from datasette.views.table import Row, row_label_from_label_column

from . import common, labels

EDIT_ICON = (
    '<svg class="row-inline-action-icon" aria-hidden="true" '
    'xmlns="http://www.w3.org/2000/svg" width="14" height="14" '
    'viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M11 4H4a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2v-7"></path>'
    '<path d="M18.5 2.5a2.12 2.12 0 0 1 3 3L12 15l-4 1 1-4 9.5-9.5z"></path>'
    "</svg>"
)
DELETE_ICON = (
    '<svg class="row-inline-action-icon" aria-hidden="true" '
    'xmlns="http://www.w3.org/2000/svg" width="14" height="14" '
    'viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M3 6h18"></path>'
    '<path d="M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2"></path>'
    '<path d="M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6"></path>'
    '<path d="M10 11v6"></path>'
    '<path d="M14 11v6"></path>'
    "</svg>"
)


def value_type(value: Any) -> str:
    """Core's ``type(value).__name__`` of the value SQLite would give (booleans are 1/0)."""
    if value is None:
        return "none"
    return {bool: "int", int: "int", float: "float", str: "str", bytes: "bytes"}.get(
        type(value), "str"
    )


async def row_permissions(datasette, request, database: str, table: str) -> dict[str, bool]:
    """Which of update-row and delete-row the actor has on the table (the inline buttons)."""
    return await datasette.allowed_many(
        actions=["update-row", "delete-row"],
        resource=TableResource(database=database, table=table),
        actor=request.actor,
    )


def _inline_actions(row_link: str, label: str, permissions: dict[str, bool]) -> str:
    actions = []
    label = markupsafe.escape(label)
    if permissions.get("update-row"):
        actions.append(
            '<button type="button" class="row-inline-action row-inline-action-edit" '
            f'aria-label="Edit row {label}" title="Edit row" data-row-action="edit">'
            f"{EDIT_ICON}</button>"
        )
    if permissions.get("delete-row"):
        actions.append(
            '<button type="button" class="row-inline-action row-inline-action-delete" '
            f'aria-label="Delete row {label}" title="Delete row" data-row-action="delete">'
            f"{DELETE_ICON}</button>"
        )
    if not actions:
        return row_link
    return (
        f'<span class="row-link-with-actions">{row_link}'
        f'<span class="row-inline-actions" aria-label="Row actions">{"".join(actions)}'
        "</span></span>"
    )


def _shown(datasette, database: str, column: str, value: Any, links, truncate: int):
    """A cell's display value and the value its type is named after."""
    if isinstance(value, dict) and links and column in links:
        return labels.link(datasette, database, links[column], value), value["value"]
    if value in ("", None):
        return markupsafe.Markup("&nbsp;"), value
    if isinstance(value, str) and is_url(value.strip()):
        url = value.strip()
        return markupsafe.Markup('<a href="{}">{}</a>').format(
            url, truncate_url(url, truncate)
        ), value
    shown = str(value)
    if truncate and len(shown) > truncate:
        shown = shown[:truncate] + "\u2026"
    return shown, value


def display_rows(
    datasette,
    database: str,
    table: str,
    columns: list[str],
    rows: list[dict[str, Any]],
    pks: list[str],
    *,
    link_column: bool,
    links: dict[str, str] | None = None,
    rendered: list[dict[str, Any]] | None = None,
    label_column: str | None = None,
    permissions: dict[str, bool] | None = None,
    truncate: int = 0,
) -> list[Row]:
    """``pks`` as core has them (``[]`` for a rowid table, whose rowid then keys its rows);
    ``link_column``: the table page's first column, linking each row (not on views)."""
    out = []
    for i, row in enumerate(rows):
        by_hook = rendered[i] if rendered else {}
        cells = []
        pk_path = row_path = row_label = None
        if link_column:
            pk_path = path_from_row_pks(row, pks, not pks, False)
            row_path = path_from_row_pks(row, pks, not pks)
            row_label = row_label_from_label_column(row, label_column)
            action_label = pk_path
            if row_label and row_label != pk_path:
                action_label = f"{pk_path} {row_label}"
            href = common.Urls(datasette).row(database, table, row_path)
            row_link = str(markupsafe.Markup('<a href="{}">{}</a>').format(href, pk_path))
            cells.append(
                {
                    "column": pks[0] if len(pks) == 1 else "Link",
                    "value_type": "pk",
                    "is_special_link_column": len(pks) != 1,
                    "raw": pk_path,
                    "value": markupsafe.Markup(
                        _inline_actions(row_link, action_label, permissions or {})
                    ),
                }
            )
        for column in columns:
            if link_column and len(pks) == 1 and column == pks[0]:
                continue  # shown in the link column
            value = row[column]
            shown, typed = _shown(datasette, database, column, value, links, truncate)
            if by_hook.get(column):
                shown = by_hook[column]
            cells.append(
                {"column": column, "value": shown, "raw": typed, "value_type": value_type(typed)}
            )
        out.append(Row(cells, pk_path=pk_path, row_path=row_path, row_label=row_label))
    return out
