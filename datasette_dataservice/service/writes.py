"""Validated writes: every row that enters a managed table satisfies its Table Schema.

Rows are numbered from 1 in the order the request gave them. A batch is all or nothing,
unless ``on_invalid="skip"`` asks to keep the valid rows and report the rest.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..catalog import store
from ..errors import BadRequest, DataServiceError
from ..providers.base import ProviderError, TableSpec
from ..schema.cast import make_error
from ..schema.references import names_of
from ..schema.rows import RowValidator, compile_validator
from . import audit
from .core import DataService
from .datatables import owner_columns, table_spec
from .foreign_keys import referencing_datatables
from .referenced_rows import ensure_rows_unreferenced

ON_INVALID = ("refuse", "skip")
#: Batches up to this many rows are validated on the event loop (a thread costs more)
INLINE_ROWS = 100
DOCUMENT_ID = re.compile(r"-?[0-9]{1,19}")
T = TypeVar("T")


@dataclass
class Written:
    count: int
    rows: list[dict[str, Any]] | None = None
    skipped: int = 0
    report: dict[str, Any] | None = None


def documents_of(datatable: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """jsonb rows may come as Datasette's ``{"id", "data": {...}}`` or as the document itself."""
    if datatable["provider_type"] != "jsonb":
        return rows
    documents = []
    for row in rows:
        if isinstance(row.get("data"), dict) and set(row) <= {"id", "data"}:
            document = dict(row["data"])
            if "id" in row:
                document["_id"] = row["id"]
            documents.append(document)
        else:
            documents.append(row)
    return documents


async def check_rows(
    service: DataService,
    datatable: dict[str, Any],
    spec: TableSpec,
    rows: list[dict[str, Any]],
    *,
    against_stored: bool,
    own_keys: dict[int, tuple] | None = None,
):
    """Validate ``rows`` with the schema; with ``against_stored``, keys are checked against
    stored rows too (``own_keys``: row number -> the key of the stored row it replaces,
    whose values it may keep)."""
    validator = compile_validator(spec.schema)
    foreign_keys = await foreign_key_lookup(service, datatable, spec)
    result = await off_the_loop(len(rows), validate_records, validator, rows, 1, foreign_keys)
    if against_stored:
        _add_errors(result, await stored_clashes(service, datatable, spec, result, own_keys or {}))
    return result


def _add_errors(result, errors: list[dict[str, Any]]) -> None:
    """Add errors found after validation, taking their rows out of the rows to write."""
    if not errors:
        return
    result.errors = sorted(result.errors + errors, key=lambda e: e.get("rowNumber") or 0)
    refused = {e["rowNumber"] for e in errors}
    kept = [
        (row, number)
        for row, number in zip(result.rows, result.row_numbers, strict=True)
        if number not in refused
    ]
    result.rows = [row for row, _ in kept]
    result.row_numbers = [number for _, number in kept]


async def stored_clashes(
    service: DataService, datatable: dict, spec: TableSpec, result, own_keys: dict[int, tuple]
) -> list[dict[str, Any]]:
    """primary-key and unique-error for values the batch shares with other stored rows."""
    provider = service.provider_for(datatable)
    validator = compile_validator(spec.schema)
    owner = owner_columns(datatable, spec)
    names = [f["name"] for f in spec.fields]
    errors = []
    for columns in validator.unique_columns():
        seen = result.seen.get(columns) or {}
        holders = await provider.existing_values(spec, columns, list(seen), owner)
        for value, holder in holders.items():
            number = seen[value]
            if own_keys.get(number) == holder:
                continue  # the row is replacing itself
            if list(columns) == validator.primary_key:
                note = f"the same as a stored row: {', '.join(columns)} = {value!r}"
                errors.append(make_error("primary-key", number, note))
            else:
                errors.append(
                    make_error(
                        "unique-error",
                        number,
                        f"the same as a stored row: {', '.join(columns)} = {value!r}",
                        value,
                        ", ".join(columns),
                        names.index(columns[0]) + 1,
                    )
                )
    return errors


def document_id(value: Any) -> int | None:
    """A jsonb row's ``_id`` as the integer it names (SQLite's rowid and PostgreSQL's
    BIGINT both hold 64 bits), or None when it names none.

    >>> document_id(7), document_id("7"), document_id(2**63), document_id(1.5), document_id(True)
    (7, 7, None, None, None)
    """
    if type(value) is str and DOCUMENT_ID.fullmatch(value):
        value = int(value)
    return value if type(value) is int and -(2**63) <= value < 2**63 else None


def _id_error(number: int, value: Any) -> dict[str, Any]:
    note = f'"_id" must be a document id, an integer of at most 64 bits: row {number} has {value!r}'
    return make_error("row-error", number, note)


async def off_the_loop(rows: int, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)``, in a worker thread when it handles more than INLINE_ROWS rows, so
    validating a large batch never holds the event loop for long."""
    if rows <= INLINE_ROWS:
        return work(*args)
    return await asyncio.to_thread(work, *args)


def validate_records(validator: RowValidator, rows: list[dict], first_row_number: int, lookup):
    """Validate rows whose ``_id`` (a jsonb document id) is not a field, and keep the ids."""
    ids = [r.get("_id") for r in rows]
    if all(i is None for i in ids):
        return validator.validate_records(
            rows, first_row_number=first_row_number, foreign_keys=lookup
        )
    records = [{k: v for k, v in r.items() if k != "_id"} for r in rows]
    result = validator.validate_records(
        records, first_row_number=first_row_number, foreign_keys=lookup
    )
    for row, number in zip(result.rows, result.row_numbers, strict=True):
        if ids[number - first_row_number] is not None:
            row["_id"] = document_id(ids[number - first_row_number])
    numbered = enumerate(ids, start=first_row_number)
    _add_errors(
        result, [_id_error(n, i) for n, i in numbered if i is not None and document_id(i) is None]
    )
    return result


async def foreign_key_lookup(service: DataService, datatable: dict[str, Any], spec: TableSpec):
    """The validator's foreign-key callback: the key tuples each referenced table holds."""
    cache: dict[tuple, set] = {}
    for fk in spec.schema.get("foreignKeys") or []:
        resource = (fk.get("reference") or {}).get("resource") or ""
        fields = fk["reference"]["fields"]
        fields = (fields,) if isinstance(fields, str) else tuple(fields)
        target = await _referenced(service, datatable, spec, resource)
        if target is not None:
            cache[(resource, fields)] = await service.provider_for(target[0]).all_keys(
                target[1], fields
            )

    def foreign_keys(resource: str, fields: tuple[str, ...]):
        return cache.get((resource, tuple(fields)))

    return foreign_keys


async def _referenced(service, datatable, spec: TableSpec, resource: str):
    if not resource:
        return datatable, spec
    others = await service.read(store.get_datatable, datatable["datasource_id"], resource)
    if others is None or not others["is_materialized"]:
        return None
    return others, table_spec(others)


def _refuse(result) -> None:
    report = result.report()
    raise DataServiceError(
        [e["message"] for e in report["errors"][:10]]
        + ([f"... and {len(result.errors) - 10} more"] if len(result.errors) > 10 else []),
        status=400,
        report=report,
    )


async def write_rows(
    service: DataService,
    datatable: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    mode: str = "insert",
    on_invalid: str = "refuse",
    returning: bool = False,
    actor: str | None = None,
) -> Written:
    """Validate and write ``rows`` (mode: insert, ignore, replace or upsert), and log it."""
    if on_invalid not in ON_INVALID:
        raise BadRequest(f'"on_invalid" must be one of {", ".join(ON_INVALID)}')
    spec = table_spec(datatable)
    provider = service.provider_for(datatable)
    rows = documents_of(datatable, rows)
    own_keys = None
    if mode == "upsert":
        rows, own_keys = await _merged_with_stored(provider, datatable, spec, rows)
    # Keys clashing with stored rows: checked first when the answer changes what is written
    # (skip, upsert); for a plain insert the engine's constraints answer, and the detailed
    # report is worked out only if it refuses.
    precheck = (mode == "insert" and on_invalid == "skip") or mode == "upsert"
    result = await check_rows(
        service, datatable, spec, rows, against_stored=precheck, own_keys=own_keys
    )
    report = None
    if result.errors:
        if on_invalid != "skip":
            _refuse(result)
        report = result.report()
    if mode in ("replace", "upsert"):
        await _ensure_overwrites_unreferenced(service, datatable, spec, result.rows)
    try:
        stored = await provider.write_rows(spec, result.rows, mode, returning)
    except ProviderError as error:
        if mode == "insert":
            _add_errors(result, await stored_clashes(service, datatable, spec, result, {}))
            if result.errors:
                _refuse(result)
        raise BadRequest(str(error)) from error
    written = Written(len(result.rows), stored, len(rows) - len(result.rows), report)
    operation = "upsert_rows" if mode == "upsert" else "insert_rows"
    details = {"mode": mode, "skipped": written.skipped} if mode != "upsert" else {}
    await audit.record_rows(service, datatable, actor, operation, written.count, **details)
    return written


def _row_key(datatable: dict[str, Any], spec: TableSpec) -> list[str]:
    if datatable["provider_type"] == "jsonb":
        return ["_id"]
    key = spec.schema.get("primaryKey") or []
    return [key] if isinstance(key, str) else list(key)


async def _referenced_self_or_others(service, datatable, spec: TableSpec) -> bool:
    own_names = ("", datatable["name"].lower())
    self_reference = any(
        (fk["reference"].get("resource") or "").lower() in own_names
        for fk in spec.schema.get("foreignKeys") or []
    )
    return self_reference or bool(await referencing_datatables(service, datatable, live_only=True))


async def _ensure_overwrites_unreferenced(service, datatable, spec: TableSpec, rows) -> None:
    """Replaced or upserted rows may change key values that other rows refer to."""
    key = _row_key(datatable, spec)
    if key == ["_id"] and all(row.get("_id") is None for row in rows):
        key = names_of(spec.schema.get("primaryKey"))  # documents found by the primary key
    keys = [tuple(row.get(k) for k in key) for row in rows]
    if not key or not await _referenced_self_or_others(service, datatable, spec):
        return
    provider = service.provider_for(datatable)
    stored = await provider.rows_by_key(spec, key, [k for k in keys if None not in k])
    if stored:
        await ensure_rows_unreferenced(service, datatable, list(stored.values()), rows)


async def ensure_deletable(service: DataService, datatable: dict[str, Any], key: dict) -> None:
    """409 if rows still refer to the row ``key`` names (the check runs before deleting)."""
    spec = table_spec(datatable)
    if not await _referenced_self_or_others(service, datatable, spec):
        return
    provider = service.provider_for(datatable)
    stored = await provider.rows_by_key(spec, list(key), [tuple(key.values())])
    await ensure_rows_unreferenced(service, datatable, list(stored.values()), [None])


async def _merged_with_stored(provider, datatable, spec: TableSpec, rows: list[dict]):
    """An upsert row changes only the fields it names: validate the row it will become."""
    key = _row_key(datatable, spec)
    if not key:
        raise BadRequest("upsert needs a primaryKey in the datatable's schema")
    missing = [i + 1 for i, row in enumerate(rows) if any(row.get(k) is None for k in key)]
    if key == ["_id"]:
        bad = [
            _id_error(number, row["_id"])
            for number, row in enumerate(rows, 1)
            if row.get("_id") is not None and document_id(row["_id"]) is None
        ]
        if bad:
            raise DataServiceError([e["message"] for e in bad[:10]], status=400)
    if missing:
        raise BadRequest(
            f"upsert rows must include the primary key ({', '.join(key)}); rows {missing[:10]} "
            "do not"
        )
    keys = [tuple(row[k] for k in key) for row in rows]
    stored = await provider.rows_by_key(spec, key, keys)
    merged = [{**stored.get(k, {}), **row} for k, row in zip(keys, rows, strict=True)]
    own_keys = {number: k for number, k in enumerate(keys, start=1) if k in stored}
    return merged, own_keys


async def update_row(
    service: DataService,
    datatable: dict[str, Any],
    key: dict[str, Any],
    update: dict[str, Any],
    *,
    actor: str | None = None,
) -> dict[str, Any]:
    """Merge ``update`` into the stored row, validate the whole row, write it, log it."""
    spec = table_spec(datatable)
    provider = service.provider_for(datatable)
    stored = await provider.rows_by_key(spec, list(key), [tuple(key.values())])
    if not stored:
        raise DataServiceError("Record not found", status=404)
    ((stored_key, current),) = stored.items()  # the key as stored (URLs carry strings)
    key = dict(zip(key, stored_key, strict=True))
    if datatable["provider_type"] == "jsonb":
        update = documents_of(datatable, [update])[0]
    merged = {**current, **update}
    result = await check_rows(
        service,
        datatable,
        spec,
        [merged],
        against_stored=True,
        own_keys={1: stored_key},
    )
    if result.errors:
        _refuse(result)
    await ensure_rows_unreferenced(service, datatable, [current], result.rows)
    try:
        await provider.update_row(spec, key, result.rows[0])
    except ProviderError as error:
        raise BadRequest(str(error)) from error
    await audit.record_rows(service, datatable, actor, "update_row", 1, key=_loggable(key))
    return result.rows[0]


async def delete_row(
    service: DataService, datatable: dict[str, Any], key: dict[str, Any], *, actor: str | None
) -> None:
    """Delete the row ``key`` names (404 if there is none; 409 while rows refer to it),
    and log it."""
    await ensure_deletable(service, datatable, key)
    try:
        deleted = await service.provider_for(datatable).delete_row(table_spec(datatable), key)
    except ProviderError as error:
        raise BadRequest(str(error)) from error
    if not deleted:
        raise DataServiceError("Record not found", status=404)
    await audit.record_rows(service, datatable, actor, "delete_row", 1, key=_loggable(key))


def _loggable(key: dict[str, Any]) -> dict[str, Any]:
    """A row key as the audit log's JSON can hold it."""
    plain = (type(None), bool, int, float, str)
    return {name: v if isinstance(v, plain) else str(v) for name, v in key.items()}


async def validate_rows(
    service: DataService, datatable: dict[str, Any], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The report writing ``rows`` would produce; nothing is written."""
    spec = table_spec(datatable)
    result = await check_rows(
        service, datatable, spec, documents_of(datatable, rows), against_stored=True
    )
    return result.report()


def table_validator(schema: dict[str, Any]) -> RowValidator:
    """The validator for CSV-style rows: columns are matched to fields by name (unless the
    schema says otherwise), and a missing column of an optional field is null."""
    return compile_validator({"fieldsMatch": "superset", **schema})


async def validate_table(datatable: dict[str, Any], table: list[list[str]]) -> dict[str, Any]:
    """The report for CSV-style rows (the first is the header); nothing is written."""
    validator = table_validator(table_spec(datatable).schema)
    result = await off_the_loop(len(table), validator.validate_table, table[0], table[1:])
    return result.report()
