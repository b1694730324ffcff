"""``.tsv``: tab-separated values, an output renderer (``register_output_renderer``), so
SQLite pages served by core and Postgres-backed pages served by the plugin both offer it.

The values are the ones the page's JSON shows, written as core's CSV writes them (Python's
``csv`` module, "excel-tab" dialect: ``\\r\\n`` line endings, quoting where needed); an
expanded foreign key (``_labels``) gives its value; ``_dl`` makes it a download.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from datasette.utils.asgi import Response

CONTENT_TYPE = "text/tab-separated-values; charset=utf-8"


def _cell(value: Any) -> Any:
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    if isinstance(value, bytes):
        return value.hex()
    return value


def render_tsv(columns: list[str], rows: list, request, database: str, table) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel-tab")
    if request.args.get("_header") != "off":
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    headers = {}
    if request.args.get("_dl"):
        headers["content-disposition"] = f'attachment; filename="{table or database}.tsv"'
    return Response(buffer.getvalue(), content_type=CONTENT_TYPE, headers=headers)


RENDERER = {"extension": "tsv", "render": render_tsv, "can_render": lambda: True}
