"""Paginated lists, keyset style: each page ends with the id the next one starts after."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..catalog import history, store
from ..errors import BadRequest
from .core import DataService


@dataclass
class Page:
    items: list[dict[str, Any]]
    count: int
    next: str | None


def _page(rows: list[dict], size: int, count: int) -> Page:
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, count, str(rows[-1]["id"]) if more and rows else None)


def after_id(token: str | None) -> int:
    if not token:
        return 0
    if not re.fullmatch(r"[0-9]{1,18}", token):
        raise BadRequest('"_next" must be the token returned as "next" by the previous page')
    return int(token)


async def apps(
    service: DataService, tenant: str, *, include_inactive: bool, next: str | None, size: int
) -> Page:
    rows = await service.read(
        store.list_apps,
        tenant,
        include_inactive=include_inactive,
        after_id=after_id(next),
        limit=size + 1,
    )
    count = await service.read(store.count_apps, tenant, include_inactive=include_inactive)
    return _page(rows, size, count)


async def datasources(
    service: DataService,
    tenant: str,
    app_slug: str,
    *,
    include_inactive: bool,
    next: str | None,
    size: int,
) -> Page:
    app = await service.app(tenant, app_slug, include_inactive=include_inactive)
    rows = await service.read(
        store.list_datasources,
        app["id"],
        include_inactive=include_inactive,
        after_id=after_id(next),
        limit=size + 1,
    )
    count = await service.read(
        store.count_datasources, app["id"], include_inactive=include_inactive
    )
    return _page(rows, size, count)


async def datatables(
    service: DataService,
    tenant: str,
    app_slug: str,
    *,
    datasource_slug: str | None = None,
    is_materialized: bool | None = None,
    include_inactive: bool,
    next: str | None,
    size: int,
) -> Page:
    datasource_id = None
    if datasource_slug is not None:
        _, datasource, _ = await service.target(
            tenant, app_slug, datasource_slug, include_inactive=include_inactive
        )
        app_id, datasource_id = datasource["app_id"], datasource["id"]
    else:
        app_id = (await service.app(tenant, app_slug, include_inactive=include_inactive))["id"]
    filters = dict(
        datasource_id=datasource_id,
        is_materialized=is_materialized,
        include_inactive=include_inactive,
    )
    rows = await service.read(
        store.list_datatables, app_id, **filters, after_id=after_id(next), limit=size + 1
    )
    count = await service.read(store.count_datatables, app_id, **filters)
    return _page(rows, size, count)


async def operations(
    service: DataService,
    tenant: str,
    app_slug: str,
    *,
    datasource_slug: str | None = None,
    datatable_name: str | None = None,
    include_inactive: bool = False,
    next: str | None,
    size: int,
) -> Page:
    """An app's or a datatable's audit trail; a deleted datatable's only with
    ``include_inactive`` (for actors who may manage the app)."""
    datatable_id = None
    if datatable_name is not None:
        datatable = await service.datatable(
            tenant, app_slug, datasource_slug, datatable_name, include_inactive=include_inactive
        )
        app_id, datatable_id = datatable["app_id"], datatable["id"]
    if datatable_name is None or include_inactive:  # the app itself must be live
        app_id = (await service.app(tenant, app_slug))["id"]
    rows = await service.read(
        history.list_operations,
        app_id=app_id,
        datatable_id=datatable_id,
        after_id=after_id(next),
        limit=size + 1,
        include_inactive=include_inactive,
    )
    count = await service.read(history.count_operations, app_id, datatable_id, include_inactive)
    return _page(rows, size, count)
