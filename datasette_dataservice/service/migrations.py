"""Schema changes: dry-run plans with row impact, applied migrations, versions, concurrency."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..catalog import history, store
from ..catalog.postgres_locks import run_to_the_end
from ..errors import BadRequest, Conflict, DataServiceError
from ..providers.base import MigrationPlan, ProviderError, TableSpec
from ..schema.canonical import schema_hash
from ..schema.diff import Operation, check_renames, diff_schemas
from . import audit
from .change import apply_change, record_refusal
from .core import DataService
from .datatables import raise_beyond_limits, schema_problems, table_spec
from .foreign_keys import ensure_references_survive
from .inputs import Problems, text
from .migration_casts import set_null_cast, strict_cast
from .request_cache import cached_read
from .row_impact import row_impact

ON_INVALID = ("refuse", "set_null")
CAST_BATCH = 10_000


@dataclass
class Change:
    """A schema change worked out against the current datatable, before anything runs."""

    datatable: dict[str, Any]
    old: TableSpec
    new: TableSpec
    renames: dict[str, str]
    plan: MigrationPlan
    failing_rows: int
    report: dict[str, Any]
    #: False when a dry run's scan ran out of time: the counts are those of the rows checked
    complete: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_hash_before": self.datatable["schema_hash"],
            "schema_hash_after": schema_hash(self.new.schema),
            "version_before": self.datatable["schema_version"],
            "renames": self.renames,
            "operations": [op.as_dict() for op in self.plan.operations],
            "sql": self.plan.sql,
            "rebuild": self.plan.rebuild,
            "failing_rows": self.failing_rows,
            "complete": self.complete,
            "valid": self.failing_rows == 0 and self.complete,
            "report": self.report,
        }


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: PATCH bodies change only the schema keys they name."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


async def work_out_change(
    service: DataService,
    datatable: dict[str, Any],
    new_schema: Any,
    renames: Any,
    deadline: float | None = None,
) -> Change:
    """Validate the new schema, diff it, plan it, and count the rows it would fail (those
    checked before ``deadline``, a ``time.monotonic()`` value, if one is given)."""
    problems = [
        f"json_schema: {message}"
        for message in await schema_problems(
            service, _datasource_of(datatable), datatable["name"], new_schema
        )
    ]
    if problems:
        raise BadRequest(problems)
    await ensure_references_survive(service, datatable, new_schema)
    old = table_spec(datatable)
    renames = check_renames(old.schema, new_schema, renames)
    operations = diff_schemas(old.schema, new_schema, renames)
    aliases = dict(old.aliases)
    for before, after in renames.items():
        aliases[after] = [before, *aliases.pop(before, [])]
    new = TableSpec(old.physical_name, new_schema, old.resolve_reference, aliases)
    provider = service.provider_for(datatable)
    raise_beyond_limits(provider, new)
    if not datatable["is_materialized"]:
        for op in operations:
            op.effect = "metadata"
        plan = MigrationPlan(operations, [])
        return Change(datatable, old, new, renames, plan, 0, {"valid": True, "errors": []})
    plan = provider.plan_migration(old, new, operations)
    failing_rows, report, complete = await row_impact(provider, old, new, plan, deadline)
    return Change(datatable, old, new, renames, plan, failing_rows, report, complete)


def _datasource_of(datatable: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": datatable["datasource_id"],
        "app_id": datatable["app_id"],
        "slug": datatable["datasource_slug"],
        "provider_type": datatable["provider_type"],
    }


async def plan_schema_change(
    service: DataService,
    tenant: str,
    app_slug: str,
    ds_slug: str,
    name: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """The dry run: what the change would do, its SQL, and the rows it would fail. Its scan
    stops after Datasette's ``sql_time_limit_ms``, answering ``"complete": false``."""
    datatable = await service.datatable(tenant, app_slug, ds_slug, name)
    new_schema = _new_schema(datatable, body, partial=False)
    budget = service.datasette.setting("sql_time_limit_ms") / 1000
    change = await work_out_change(
        service, datatable, new_schema, body.get("renames"), time.monotonic() + budget
    )
    return change.as_dict()


def _new_schema(datatable: dict[str, Any], body: dict[str, Any], partial: bool) -> Any:
    if "json_schema" not in body:
        if body.get("renames"):
            raise BadRequest('"renames" needs "json_schema": the schema with the new names')
        return json.loads(datatable["json_schema"])
    if partial:
        return merge_patch(json.loads(datatable["json_schema"]), body["json_schema"])
    return body["json_schema"]


async def change_schema(
    service: DataService,
    tenant: str,
    actor: str | None,
    app_slug: str,
    ds_slug: str,
    name: str,
    body: dict[str, Any],
    *,
    partial: bool,
    expected_hash: str | None,
) -> dict[str, Any]:
    """Apply a schema change in one transaction, or refuse it and change nothing.

    Changes to one datatable are serialised, across nodes too (``service.schema_lock``),
    and ``expected_hash`` (If-Match or the body's ``schema_hash``) must name the current
    schema: of two concurrent updates, one wins and the other gets 412, none of its DDL run.
    """
    problems = Problems()
    description = text(body, "description", problems)
    on_invalid = body.get("on_invalid", "refuse")
    if on_invalid not in ON_INVALID:
        problems.add(f'"on_invalid" must be one of {", ".join(ON_INVALID)}')
    problems.raise_if_any()
    current = await service.datatable(tenant, app_slug, ds_slug, name)
    async with service.schema_lock(current["id"]):
        # Read again under the lock: a change that held it before (on any node) is recorded.
        datatable = await service.datatable(tenant, app_slug, ds_slug, name, fresh=True)
        if expected_hash is not None and expected_hash != datatable["schema_hash"]:
            raise DataServiceError(
                f'schema_hash "{expected_hash}" is not the current schema '
                f'("{datatable["schema_hash"]}", version {datatable["schema_version"]}); '
                "fetch the datatable again and retry",
                status=412,
            )
        new_schema = _new_schema(datatable, body, partial)
        change = await work_out_change(service, datatable, new_schema, body.get("renames"))
        # Once under way it runs to its end, lock held, even if the request is cancelled:
        # a lock released half-way would hand the change in flight to recovery.
        await run_to_the_end(_apply(service, tenant, actor, change, on_invalid, description))
    return await service.datatable(tenant, app_slug, ds_slug, name)


async def _apply(
    service: DataService,
    tenant: str,
    actor: str | None,
    change: Change,
    on_invalid: str,
    description: str | None,
) -> None:
    datatable = change.datatable
    common = dict(
        **audit.about_datatable(datatable, actor),
        operation="change_schema",
        schema_before=change.old.schema,
        schema_after=change.new.schema,
        sql=change.plan.sql,
    )
    if not change.plan.operations:
        if description is not None and description != datatable["description"]:
            catalog = _version_recorder(change, description, actor, lambda: 0)
            await apply_change(service, common, catalog=catalog)
        return
    cast = None
    if change.failing_rows:
        if on_invalid != "set_null":
            await _refuse(service, common, change, "existing rows do not fit the new schema")
        cast = set_null_cast(change)
        if isinstance(cast, str):
            await _refuse(service, common, change, cast)
    elif change.plan.recast:
        cast = strict_cast(change)
    provider = service.provider_for(datatable)
    pending = _version_row(change, description)
    await service.write(
        lambda conn: history.insert_pending_change(
            conn,
            datatable["id"],
            {
                "version": pending["schema_version"],
                "json_schema": pending["json_schema"],
                "schema_hash": pending["schema_hash"],
                "field_aliases": pending["field_aliases"],
                "renames": json.dumps(change.renames),
                "operation": json.dumps({**common, "details": change.as_dict()}),
            },
        )
    )
    rows = 0

    async def migrate() -> list[str]:
        nonlocal rows
        if datatable["is_materialized"]:
            rows = await provider.migrate(change.old, change.new, change.plan, cast)
        return []  # the entry holds the plan's SQL already

    await apply_change(
        service,
        common,
        storage=migrate,
        catalog=_version_recorder(change, description, actor, lambda: rows),
        record_failure={"details": change.as_dict()},
        failure_catalog=lambda conn: history.delete_pending_change(conn, datatable["id"]),
        conflict=lambda message: f"The schema change failed and was rolled back: {message}",
        errors=(ProviderError, ValueError),
    )


def _version_row(change: Change, description: str | None) -> dict[str, Any]:
    """The datatable's catalog columns once the change is applied."""
    row = {
        "json_schema": json.dumps(change.new.schema, ensure_ascii=False),
        "schema_hash": schema_hash(change.new.schema),
        "schema_version": change.datatable["schema_version"] + (1 if change.plan.operations else 0),
        "field_aliases": json.dumps(change.new.aliases),
    }
    if description is not None:
        row["description"] = description
    return row


def _version_recorder(change: Change, description, actor, rows: Callable[[], int]):
    """The catalog step of a schema change: the new version, and the audit entry's details
    (a change with no operations is recorded as taking no time)."""
    changes = _version_row(change, description)

    def record(conn, done) -> dict[str, Any]:
        record_version(
            conn,
            change.datatable["id"],
            changes,
            change.renames,
            new_version=bool(change.plan.operations),
            actor=actor,
        )
        duration = done.duration_ms or 0.0
        details = {**change.as_dict(), "rows_affected": rows()}
        if duration and rows():
            details["rows_per_second"] = round(rows() / (duration / 1000))
        return {"details": details, "duration_ms": duration}

    return record


def record_version(
    conn,
    datatable_id: int,
    changes: dict[str, Any],
    renames: dict[str, str],
    *,
    new_version: bool,
    actor: str | None,
) -> None:
    """Point the catalog at the new schema (and keep it as a version), in one transaction."""
    store.update_row(conn, "datatables", datatable_id, changes)
    if new_version:
        history.insert_schema_version(
            conn,
            datatable_id,
            changes["schema_version"],
            changes["json_schema"],
            changes["schema_hash"],
            actor,
            renames,
        )
    history.delete_pending_change(conn, datatable_id)


async def _refuse(service, common, change: Change, reason: str):
    await record_refusal(service, common, reason, details=change.as_dict())
    raise Conflict(
        f"The schema change was refused: {reason}. {change.failing_rows} row(s) fail it; "
        'see "report", fix them, or send "on_invalid": "set_null" to empty the failing '
        "values of optional fields",
        report={**change.as_dict(), **change.report},
    )


async def diff_versions(
    service: DataService,
    tenant: str,
    app_slug: str,
    ds_slug: str,
    name: str,
    from_version: int,
    to_version: int,
) -> list[Operation]:
    """The operations between two kept versions, renames included."""
    datatable = await service.datatable(tenant, app_slug, ds_slug, name)
    rows = await cached_read(service, history.list_schema_versions, datatable["id"])
    versions = {v["version"]: v for v in rows}
    for version in (from_version, to_version):
        if version not in versions:
            raise BadRequest(
                f"version {version} does not exist; versions run from 1 to {max(versions)}"
            )
    low, high = sorted((from_version, to_version))
    names = {f["name"]: f["name"] for f in json.loads(versions[low]["json_schema"])["fields"]}
    for version in range(low + 1, high + 1):
        hop = json.loads(versions[version]["renames"])
        names = {first: hop.get(current, current) for first, current in names.items()}
    renames = {first: last for first, last in names.items() if first != last}
    if from_version > to_version:
        renames = {last: first for first, last in renames.items()}
    old = json.loads(versions[from_version]["json_schema"])
    new = json.loads(versions[to_version]["json_schema"])
    new_names = {f["name"] for f in new["fields"]}
    operations = diff_schemas(old, new, {k: v for k, v in renames.items() if v in new_names})
    if datatable["is_materialized"]:  # each effect as the plan (and so the audit) gives it
        plan = service.provider_for(datatable).plan_migration
        plan(table_spec(datatable, old), table_spec(datatable, new), operations)
    return operations
