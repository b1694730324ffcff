"""Soft delete and restore of a datatable: its table leaves the served database and comes back.

A deleted datatable's table is moved to its datasource's trash (the provider's ``hide``), so
no query, listing or URL reaches it; restore moves it back (``unhide``). The storage moves
first, then the catalog records it; if the catalog write fails the move is undone, and a crash
in between is put right at start-up by :func:`reconcile_trash` (storage follows the catalog).

Foreign keys never cross between a live and a hidden table: deleting a datatable that a live
one references is refused (409), and so is restoring one whose referenced datatable is
deleted. A hidden table's keys to live tables are set aside and checked again on restore.
"""

from __future__ import annotations

import json

from ..catalog import store
from ..errors import Conflict, DataServiceError
from ..providers.base import ProviderError
from ..providers.table_shape import key_list
from . import audit
from .change import apply_change
from .core import DataService
from .datatables import ensure_unreferenced, siblings_of, table_spec
from .writes import foreign_key_lookup


async def delete_datatable(
    service: DataService, tenant: str, actor: str | None, app_slug: str, ds_slug: str, name: str
) -> dict:
    datatable = await service.datatable(tenant, app_slug, ds_slug, name)
    live = [s for s in await siblings_of(service, datatable) if s["is_active"]]
    ensure_unreferenced(datatable, live, "deleted")
    await _move(service, actor, datatable, active=False)
    return await service.datatable(tenant, app_slug, ds_slug, name, include_inactive=True)


async def restore_datatable(
    service: DataService, tenant: str, actor: str | None, app_slug: str, ds_slug: str, name: str
) -> dict:
    datatable = await service.datatable(tenant, app_slug, ds_slug, name, include_inactive=True)
    if datatable["is_active"]:
        raise Conflict(f'DataTable "{name}" is not deleted; there is nothing to restore')
    await service.datasource(tenant, app_slug, ds_slug)  # 404 if the datasource is deleted
    deleted = {s["name"] for s in await siblings_of(service, datatable) if not s["is_active"]}
    for foreign_key in json.loads(datatable["json_schema"]).get("foreignKeys") or []:
        resource = (foreign_key.get("reference") or {}).get("resource") or ""
        if resource in deleted:
            raise Conflict(
                f'DataTable "{name}" has a foreign key to deleted datatable "{resource}": '
                "restore that one first"
            )
    await _move(service, actor, datatable, active=True)
    return await service.datatable(tenant, app_slug, ds_slug, name)


async def _move(service: DataService, actor: str | None, datatable: dict, active: bool) -> None:
    provider = service.provider_for(datatable)
    spec = table_spec(datatable)

    async def move() -> list[str]:
        if not datatable["is_materialized"]:
            return []
        return await (provider.unhide(spec) if active else provider.hide(spec))

    async def verify() -> None:
        if active:
            await _ensure_keys_found(service, datatable, spec)

    await apply_change(
        service,
        dict(
            **audit.about_datatable(datatable, actor),
            operation="restore_datatable" if active else "delete_datatable",
        ),
        storage=move,
        verify=verify if datatable["is_materialized"] else None,
        catalog=lambda conn, done: store.set_datatable_active(conn, datatable["id"], active),
        undo=lambda: provider.hide(spec) if active else provider.unhide(spec),
    )


async def _ensure_keys_found(service: DataService, datatable: dict, spec) -> None:
    """409 if a restored row's foreign key names a row deleted meanwhile (flat tables' engines
    refuse that on their own; jsonb documents are checked here)."""
    lookup = await foreign_key_lookup(service, datatable, spec)
    provider = service.provider_for(datatable)
    for foreign_key in spec.schema.get("foreignKeys") or []:
        reference = foreign_key["reference"]
        found = lookup(reference.get("resource") or "", tuple(key_list(reference["fields"])))
        if found is None:
            continue
        fields = tuple(key_list(foreign_key["fields"]))
        keys = await provider.all_keys(spec, fields)
        missing = [key for key in keys if None not in key and key not in found]
        if missing:
            target = reference.get("resource") or datatable["name"]
            raise Conflict(
                f'DataTable "{datatable["name"]}" cannot be restored: {len(missing)} of its rows'
                f' have {", ".join(fields)} values that "{target}" no longer holds, e.g.'
                f" {list(missing[0])}; add those rows back first"
            )


async def reconcile_trash(service: DataService) -> list[str]:
    """Put each table where the catalog says it is, after a crash during a move: a live
    datatable's table is served, a deleted one's (in a live datasource) is hidden. A
    datasource deleted as a whole is not served at all, so its tables stay where they are."""
    served = {d["database_name"] for d in await service.read(store.all_active_datasources)}
    outcomes = []
    for datatable in await service.read(store.all_materialized_datatables):
        if datatable["database_name"] not in served:
            continue
        target = audit.about_datatable(datatable, None)["target"]
        try:
            outcome = await _put_in_place(service, datatable)
        except (DataServiceError, ProviderError) as error:  # e.g. PostgreSQL is down
            outcome = f"not checked ({error}); checked again at the next start"
        if outcome:
            outcomes.append(f"{target}: {outcome}")
    return outcomes


async def _put_in_place(service: DataService, datatable: dict) -> str | None:
    provider, spec = service.provider_for(datatable), table_spec(datatable)
    where = await provider.placement(spec)
    wanted, other = ("served", "hidden") if datatable["is_active"] else ("hidden", "served")
    if other not in where:
        return None
    if wanted in where:  # two complete copies: the move stopped between its commits
        await (
            provider.drop_hidden(spec) if wanted == "served" else provider.drop(spec.physical_name)
        )
    else:
        await (provider.unhide(spec) if wanted == "served" else provider.hide(spec))
    return wanted
