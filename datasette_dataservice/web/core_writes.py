"""Datasette's own write endpoints, on managed tables: same requests, same responses, but
every row is validated against the datatable's Table Schema, and schema changes are sent to
the data service.

These routes shadow core's (plugin routes come first); on any table the data service does
not manage they hand the request to core's own view, untouched.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from datasette.events import DeleteRowEvent, InsertRowsEvent, UpdateRowEvent, UpsertRowsEvent
from datasette.resources import TableResource
from datasette.utils import CustomJSONEncoder, urlsafe_components
from datasette.utils.asgi import NotFound, Response
from datasette.views.row import RowDeleteView, RowUpdateView
from datasette.views.table import (
    TableDropView,
    TableInsertView,
    TableSetColumnTypeView,
    TableUpsertView,
)
from datasette.views.table_create_alter import TableAlterView

from ..errors import BadRequest, DataServiceError, Forbidden
from ..providers.sqlite_values import to_storage
from ..schema import json_text
from ..service import writes
from ..service.core import is_managed_database, service_for
from ..service.datatables import table_spec
from . import responses
from .ratelimit import limiter_for, with_headers
from .requests import body_bytes
from .serialize import datatable_path

CORE_VIEWS = {
    "insert": TableInsertView,
    "upsert": TableUpsertView,
    "alter": TableAlterView,
    "drop": TableDropView,
    "set-column-type": TableSetColumnTypeView,
    "update": RowUpdateView,
    "delete": RowDeleteView,
}
INSERT_KEYS = {"row", "rows", "return", "ignore", "replace", "alter", "on_invalid"}


async def _managed(datasette, request):
    """The datatable behind the request's table, or None for tables the service ignores."""
    try:
        resolved = await datasette.resolve_table(request)
    except NotFound:
        return None, None
    service = service_for(datasette)
    datatable = await service.managed_datatable(resolved.db.name, resolved.table)
    return resolved, datatable


async def _in_managed_database(datasette, request) -> bool:
    try:
        database = await datasette.resolve_database(request)
    except NotFound:
        return False
    return is_managed_database(datasette, database.name)


async def _managed_postgres(datasette, request):
    """The datatable behind a Postgres-backed table (see web/postgres/mount.py)."""
    database, table = request.url_vars["database"], request.url_vars["table"]
    datatable = await service_for(datasette).managed_datatable(database, table)
    resolved = SimpleNamespace(db=SimpleNamespace(name=database), table=table)
    return resolved, datatable


def core_write_view(kind: str, postgres: bool = False):
    """Datasette's write endpoint ``kind``; with ``postgres``, for Postgres-backed tables,
    which have no core view to fall back on."""

    async def view(datasette, request):
        if postgres:
            resolved, datatable = await _managed_postgres(datasette, request)
            if datatable is None:
                return responses.error(DataServiceError("Table not found", status=404))
        else:
            resolved, datatable = await _managed(datasette, request)
            if resolved is None and await _in_managed_database(datasette, request):
                # No such table (a soft-deleted one is not in its database either): 404
                # whoever asks, where core would check permissions first and answer 403.
                return responses.error(DataServiceError("Table not found", status=404))
            if datatable is None:
                return await CORE_VIEWS[kind](datasette).dispatch_request(request)
        if request.method == "OPTIONS":
            return Response.text("ok")  # as core's write views answer a preflight
        if request.method != "POST":  # a GET must never write (core's views are POST-only)
            return responses.error(DataServiceError("Method not allowed", status=405))
        try:  # managed writes count against the default and write rate limits
            meter = await limiter_for(datasette).meter(request)
        except DataServiceError as error:
            return responses.error(error)
        response = await _managed_write(kind, datasette, request, resolved, datatable)
        return with_headers(response, meter)

    return view


async def _managed_write(kind: str, datasette, request, resolved, datatable) -> Response:
    try:
        if kind in {"insert", "upsert"}:
            return await _insert(datasette, request, resolved, datatable, kind)
        if kind == "update":
            return await _update(datasette, request, resolved, datatable)
        if kind == "delete":
            return await _delete(datasette, request, resolved, datatable)
        await _require(datasette, request, resolved, "view-table")
        path = datatable_path(
            datatable["app_slug"], datatable["datasource_slug"], datatable["name"]
        )
        raise Forbidden(
            f'Table "{resolved.table}" is managed by the data service: change its schema '
            f"with PUT or PATCH {path}, or drop it with DELETE "
            f"{path}?purge=true&confirm={datatable['name']}"
        )
    except DataServiceError as error:
        return responses.error(error)


async def _require(datasette, request, resolved, *actions: str) -> None:
    resource = TableResource(database=resolved.db.name, table=resolved.table)
    for action in actions:
        if not await datasette.allowed(action=action, resource=resource, actor=request.actor):
            raise Forbidden(f"Permission denied: need {action}")


def _actor_id(request) -> str | None:
    return (request.actor or {}).get("id")


async def _json(datasette, request) -> dict:
    raw = await body_bytes(request, service_for(datasette).config.max_body_bytes)
    try:
        # orjson: a 10,000-row body parses about four times faster than with json.loads
        data = json_text.loads(raw)
    except ValueError as e:
        raise BadRequest(f"Invalid JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadRequest("JSON must be a dictionary")
    return data


async def _insert(datasette, request, resolved, datatable, kind: str) -> Response:
    upsert = kind == "upsert"
    await _require(datasette, request, resolved, "insert-row", *(["update-row"] if upsert else []))
    data = await _json(datasette, request)
    unknown = set(data) - INSERT_KEYS
    if unknown:
        raise BadRequest('Invalid parameter: "{}"'.format('", "'.join(sorted(unknown))))
    if ("row" in data) == ("rows" in data):
        raise BadRequest('JSON must have one or other of "row" or "rows"')
    rows = [data["row"]] if "row" in data else data["rows"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadRequest('"rows" must be a list of dictionaries')
    limit = service_for(datasette).config.max_rows_per_request
    if len(rows) > limit:
        raise DataServiceError(f"Too many rows, maximum allowed is {limit}", status=413)
    if data.get("alter"):
        raise BadRequest(
            '"alter" cannot add columns to a managed table: add fields to its schema instead'
        )
    if data.get("ignore") and data.get("replace"):
        raise BadRequest('Cannot use "ignore" and "replace" at the same time')
    if upsert and (data.get("ignore") or data.get("replace")):
        raise BadRequest("Upsert does not support ignore or replace")
    if data.get("replace"):
        await _require(datasette, request, resolved, "update-row")
    mode = (
        "upsert"
        if upsert
        else "ignore"
        if data.get("ignore")
        else "replace"
        if data.get("replace")
        else "insert"
    )
    returning = bool(data.get("return") or "row" in data) and await datasette.allowed(
        action="view-table",
        resource=TableResource(database=resolved.db.name, table=resolved.table),
        actor=request.actor,
    )
    written = await writes.write_rows(
        service_for(datasette),
        datatable,
        rows,
        mode=mode,
        on_invalid=data.get("on_invalid", "refuse"),
        returning=returning,
        actor=_actor_id(request),
    )
    result: dict = {"ok": True}
    if returning:
        result["rows"] = _as_core_shows(datatable, written.rows)
    if written.report is not None:
        result.update(written=written.count, skipped=written.skipped, report=written.report)
    event = UpsertRowsEvent if upsert else InsertRowsEvent
    extra = {} if upsert else {"ignore": mode == "ignore", "replace": mode == "replace"}
    await datasette.track_event(
        event(
            actor=request.actor,
            database=resolved.db.name,
            table=resolved.table,
            num_rows=written.count,
            **extra,
        )
    )
    return Response.json(result, status=200 if upsert else 201, default=CustomJSONEncoder().default)


async def _row_key(datasette, request, resolved, datatable) -> dict:
    """The URL's row key, by column: core resolves it on SQLite, the spec on Postgres."""
    if datatable["engine"] != "sqlite":
        pks = _postgres_key_columns(datatable)
        values = urlsafe_components(request.url_vars["pks"])
        if len(values) != len(pks):
            raise BadRequest("URL row identifier does not match the primary key for this table")
        return dict(zip(pks, values, strict=True))
    try:
        row = await datasette.resolve_row(request)
    except NotFound as e:
        raise DataServiceError(e.args[0], status=404) from e
    pks = await resolved.db.primary_keys(resolved.table) or ["rowid"]
    if datatable["provider_type"] == "jsonb":
        pks = ["_id"]
    return dict(zip(pks, row.pk_values, strict=True))


def _postgres_key_columns(datatable) -> list[str]:
    if datatable["provider_type"] == "jsonb":
        return ["_id"]
    key = table_spec(datatable).schema.get("primaryKey") or ["rowid"]
    return [key] if isinstance(key, str) else list(key)


async def _delete(datasette, request, resolved, datatable) -> Response:
    """Core's row ``/-/delete``, refused while other rows refer to the row."""
    await _require(datasette, request, resolved, "delete-row")
    key = await _row_key(datasette, request, resolved, datatable)
    await writes.delete_row(service_for(datasette), datatable, key, actor=_actor_id(request))
    await datasette.track_event(
        DeleteRowEvent(
            actor=request.actor,
            database=resolved.db.name,
            table=resolved.table,
            pks=list(key.values()),
        )
    )
    return Response.json({"ok": True})


def _as_core_shows(datatable, rows: list[dict]) -> list[dict]:
    """Rows written to a Postgres flat_table, as core returns the same rows from SQLite
    (booleans 1/0, JSON as text, numbers as REAL), so a client sees no difference."""
    if datatable["engine"] == "sqlite" or datatable["provider_type"] != "flat_table":
        return rows
    fields = {f["name"]: f for f in table_spec(datatable).fields}
    shown = []
    for row in rows:
        values = {}
        for name, value in row.items():
            field = fields.get(name, {})
            if field.get("type") == "number" and isinstance(value, int | float):
                value = float(value)
            values[name] = to_storage(value, field)
        shown.append(values)
    return shown


async def _update(datasette, request, resolved, datatable) -> Response:
    key = await _row_key(datasette, request, resolved, datatable)
    await _require(datasette, request, resolved, "update-row")
    data = await _json(datasette, request)
    if not isinstance(data.get("update"), dict):
        raise BadRequest("JSON must contain an update dictionary")
    invalid = set(data) - {"update", "return", "alter"}
    if invalid:
        raise BadRequest("Invalid keys: {}".format(", ".join(sorted(invalid))))
    if data.get("alter"):
        raise BadRequest('"alter" cannot add columns to a managed table: change its schema')
    updated = await writes.update_row(
        service_for(datasette), datatable, key, data["update"], actor=_actor_id(request)
    )
    await datasette.track_event(
        UpdateRowEvent(
            actor=request.actor,
            database=resolved.db.name,
            table=resolved.table,
            pks=list(key.values()),
        )
    )
    result: dict = {"ok": True}
    if data.get("return"):
        result["row"] = updated
        if datatable["provider_type"] == "jsonb":  # the physical row, as /-/insert returns it
            document = {k: v for k, v in updated.items() if k != "_id"}
            result["row"] = {"id": updated["_id"], "data": json.dumps(document)}
    return Response.json(result, default=CustomJSONEncoder().default)
