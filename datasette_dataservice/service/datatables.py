"""DataTables: create and materialize, update, rename (soft delete: service.softdelete)."""

from __future__ import annotations

import json
from typing import Any

from ..catalog import history, store
from ..errors import BadRequest, Conflict
from ..providers.base import Provider, TableSpec
from ..schema.canonical import schema_hash
from ..schema.descriptor import check_descriptor
from ..schema.names import datatable_name_problem, physical_table_name
from ..schema.references import reference_problems
from . import audit
from .change import apply_change
from .core import DataService
from .foreign_keys import ensure_references_materialized
from .inputs import Problems, boolean, text
from .request_cache import cached_read

JSONB_RESERVED_FIELDS = {"_id"}


def table_spec(datatable: dict[str, Any], schema: dict[str, Any] | None = None) -> TableSpec:
    app_slug = datatable["app_slug"]
    own = datatable["physical_table_name"]
    return TableSpec(
        physical_name=own,
        schema=schema if schema is not None else json.loads(datatable["json_schema"]),
        resolve_reference=lambda name: physical_table_name(app_slug, name) if name else own,
        aliases=json.loads(datatable.get("field_aliases") or "{}"),
    )


def owner_columns(datatable: dict[str, Any], spec: TableSpec) -> list[str]:
    """The columns that say which stored row holds a value: the key of the row."""
    if datatable["provider_type"] == "jsonb":
        return ["_id"]
    primary_key = spec.schema.get("primaryKey") or []
    return [primary_key] if isinstance(primary_key, str) else list(primary_key) or ["rowid"]


async def schema_problems(
    service: DataService, datasource: dict, name: str | None, schema: Any
) -> list[str]:
    problems = check_descriptor(schema)
    if problems:
        return problems
    config = service.config
    if len(schema["fields"]) > config.max_fields:
        problems.append(f"a schema may have at most {config.max_fields} fields")
    problems += [
        f'field name "{f["name"][:40]}..." is longer than {config.max_name_length} characters'
        for f in schema["fields"]
        if len(f["name"]) > config.max_name_length
    ]
    if datasource["provider_type"] == "jsonb":
        problems += [
            f'field "{f["name"]}" is reserved by the jsonb provider; rename it'
            for f in schema["fields"]
            if f["name"] in JSONB_RESERVED_FIELDS
        ]
    siblings = {
        row["name"].lower(): json.loads(row["json_schema"])
        for row in await cached_read(
            service,
            store.list_datatables,
            datasource["app_id"],
            datasource_id=datasource["id"],
            include_inactive=False,
        )
    }
    for i, foreign_key in enumerate(schema.get("foreignKeys") or []):
        resource = (foreign_key.get("reference") or {}).get("resource") or ""
        if (
            resource
            and resource.lower() != (name or "").lower()
            and resource.lower() not in siblings
        ):
            problems.append(
                f'foreignKeys[{i}]: reference.resource "{resource}" is not a datatable of '
                f'datasource "{datasource["slug"]}"; create it first or use "" for this table'
            )
    if not problems:
        problems += reference_problems(schema, name, lambda other: siblings.get(other.lower()))
    return problems


def raise_beyond_limits(provider: Provider, spec: TableSpec) -> None:
    """400 for what the engine cannot hold, whether or not the table is materialized yet."""
    problems = provider.limit_problems(spec)
    if problems:
        raise BadRequest([f"json_schema: {problem}" for problem in problems])


async def create_datatable(
    service: DataService,
    tenant: str,
    actor: str | None,
    app_slug: str,
    datasource_slug: str,
    body: dict[str, Any],
) -> dict:
    datasource = await service.datasource(tenant, app_slug, datasource_slug)
    problems = Problems()
    name = text(body, "name", problems, required=True)
    if name:
        problems.add(datatable_name_problem(name))
    description = text(body, "description", problems) or ""
    materialize = boolean(body, "materialize", problems, default=True)
    schema = body.get("json_schema")
    if schema is None:
        problems.add('"json_schema" is required: a Frictionless Table Schema with "fields"')
    else:
        for message in await schema_problems(service, datasource, name, schema):
            problems.add(f"json_schema: {message}")
    problems.raise_if_any()

    existing = await service.read(store.get_datatable, datasource["id"], name, True)
    if existing is not None:
        state = "" if existing["is_active"] else " (deleted; restore it or pick another name)"
        raise Conflict(f'Datasource "{datasource_slug}" already has a datatable "{name}"{state}')

    row = {
        "name": name,
        "description": description,
        "json_schema": json.dumps(schema, ensure_ascii=False),
        "schema_hash": schema_hash(schema),
        "schema_version": 1,
        "physical_table_name": physical_table_name(app_slug, name),
        "is_materialized": 0,
    }
    provider = service.provider_for(datasource)
    spec = table_spec({**datasource, **row, "app_slug": app_slug}, schema)
    raise_beyond_limits(provider, spec)
    if materialize:
        await ensure_references_materialized(
            service, datasource["id"], datasource["app_id"], name, schema
        )
    common = dict(
        tenant=tenant,
        app_id=datasource["app_id"],
        datasource_id=datasource["id"],
        target_type="datatable",
        target=f"{app_slug}/{datasource_slug}/{name}",
        actor=actor,
        schema_after=schema,
    )

    def create(conn, done) -> dict:
        if materialize:
            row["is_materialized"] = 1
        datatable_id = store.insert_datatable(conn, datasource["id"], row)
        history.insert_schema_version(
            conn, datatable_id, 1, row["json_schema"], row["schema_hash"], actor
        )
        audit.record(conn, **common, datatable_id=datatable_id, operation="create_datatable")
        return {"datatable_id": datatable_id}

    await apply_change(
        service,
        {**common, "operation": "materialize"} if materialize else None,
        catalog=create,
        storage=(lambda: provider.materialize(spec)) if materialize else None,
        undo=lambda: provider.drop(spec.physical_name),
        record_failure={"sql": provider.create_sql(spec)} if materialize else None,
    )
    return await service.datatable(tenant, app_slug, datasource_slug, name)


async def materialize_datatable(
    service: DataService, tenant: str, actor: str | None, app_slug: str, ds_slug: str, name: str
) -> dict:
    datatable = await service.datatable(tenant, app_slug, ds_slug, name)
    if datatable["is_materialized"]:
        raise Conflict(f'DataTable "{name}" is already materialized')
    provider = service.provider_for(datatable)
    spec = table_spec(datatable)
    await ensure_references_materialized(
        service, datatable["datasource_id"], datatable["app_id"], name, spec.schema
    )
    await apply_change(
        service,
        dict(
            **audit.about_datatable(datatable, actor),
            operation="materialize",
            schema_after=spec.schema,
        ),
        storage=lambda: provider.materialize(spec),
        catalog=lambda conn, done: store.update_row(
            conn, "datatables", datatable["id"], {"is_materialized": 1}
        ),
        undo=lambda: provider.drop(spec.physical_name),
        record_failure={},
    )
    return await service.datatable(tenant, app_slug, ds_slug, name)


async def update_datatable(
    service: DataService,
    tenant: str,
    actor: str | None,
    app_slug: str,
    ds_slug: str,
    name: str,
    body: dict[str, Any],
) -> dict:
    datatable = await service.datatable(tenant, app_slug, ds_slug, name)
    problems = Problems()
    changes: dict[str, Any] = {}
    if "description" in body:
        changes["description"] = text(body, "description", problems) or ""
    new_name = name
    if "name" in body:
        new_name = text(body, "name", problems, required=True)
        if new_name and new_name != name:
            problems.add(datatable_name_problem(new_name))
    problems.raise_if_any()
    if new_name != name:
        return await _rename_datatable(service, tenant, actor, datatable, new_name, changes)

    await apply_change(
        service,
        dict(
            **audit.about_datatable(datatable, actor),
            operation="update_datatable",
            details={"before": {k: datatable[k] for k in changes}, "after": changes},
        ),
        catalog=lambda conn, done: store.update_row(conn, "datatables", datatable["id"], changes),
    )
    return await service.datatable(tenant, app_slug, ds_slug, name)


async def _rename_datatable(
    service: DataService,
    tenant: str,
    actor: str | None,
    datatable: dict,
    new_name: str,
    changes: dict[str, Any],
) -> dict:
    app_slug, ds_slug, old_name = (
        datatable["app_slug"],
        datatable["datasource_slug"],
        datatable["name"],
    )
    siblings = await siblings_of(service, datatable)
    for sibling in siblings:
        if sibling["name"].lower() == new_name.lower():
            raise Conflict(f'Datasource "{ds_slug}" already has a datatable "{sibling["name"]}"')
    ensure_unreferenced(datatable, siblings, "renamed")
    new_physical = physical_table_name(app_slug, new_name)
    provider = service.provider_for(datatable)
    changes = {**changes, "name": new_name, "physical_table_name": new_physical}
    renamed = table_spec({**datatable, "physical_table_name": new_physical})

    async def rename_table() -> list[str]:
        if not datatable["is_materialized"]:
            return []  # the catalog alone changes (and the audit entry is timed all the same)
        return await provider.rename(table_spec(datatable), new_physical)

    await apply_change(
        service,
        dict(
            **audit.about_datatable(datatable, actor, name=new_name),
            operation="rename_datatable",
            details={"before": {"name": old_name}, "after": {"name": new_name}},
        ),
        storage=rename_table,
        catalog=lambda conn, done: store.update_row(conn, "datatables", datatable["id"], changes),
        undo=lambda: provider.rename(renamed, datatable["physical_table_name"]),
    )
    return await service.datatable(tenant, app_slug, ds_slug, new_name)


async def schema_of(
    service: DataService,
    tenant: str,
    app_slug: str,
    ds_slug: str,
    name: str,
    version: int | None = None,
) -> dict:
    datatable = await service.datatable(tenant, app_slug, ds_slug, name)
    if version is None:
        return json.loads(datatable["json_schema"])
    row = await service.read(history.get_schema_version, datatable["id"], version)
    if row is None:
        raise BadRequest(
            f"version {version} does not exist; versions run from 1 to "
            f"{datatable['schema_version']}"
        )
    return json.loads(row["json_schema"])


async def siblings_of(service: DataService, datatable: dict) -> list[dict]:
    """The other datatables of the datatable's datasource, deleted ones included."""
    rows = await cached_read(
        service,
        store.list_datatables,
        datatable["app_id"],
        datasource_id=datatable["datasource_id"],
        include_inactive=True,
    )
    return [row for row in rows if row["id"] != datatable["id"]]


def ensure_unreferenced(datatable: dict, siblings: list[dict], what: str) -> None:
    """409 if another datatable has a foreign key to ``datatable``."""
    for sibling in siblings:
        references = {
            (fk.get("reference") or {}).get("resource")
            for fk in json.loads(sibling["json_schema"]).get("foreignKeys") or []
        }
        if datatable["name"] in references:
            raise Conflict(
                f'DataTable "{datatable["name"]}" cannot be {what}: datatable '
                f'"{sibling["name"]}" has a foreign key to it'
            )


async def ensure_unreferenced_by_siblings(service: DataService, datatable: dict, what: str):
    ensure_unreferenced(datatable, await siblings_of(service, datatable), what)
