"""Keeps Postgres-backed databases in Datasette's listings (see dataplane/postgres/listing.py).

Before a request is served, each Postgres-backed database the data service serves is
registered with Datasette as a ``ListedDatabase`` mirroring its PostgreSQL schema, and one no
longer served is removed. After the catalog changes (every schema change the plugin makes
ends with a catalog write) or the set of served databases does, the mirrors whose datatables
changed in the catalog are read again from PostgreSQL; between changes a request pays one
comparison.

Under the mount, the listings of one database that core and the data service build from
those mirrors answer for a Postgres-backed database as for a SQLite one: ``/{db}/-/schema``
and ``/{db}/{table}/-/schema`` (core's views) and ``/{db}/-/resources.json`` (the data
service's); ``/{db}/-/queries`` is web/postgres/query_list.py's.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

import psycopg
from datasette.views.base import DatasetteError
from datasette.views.special import DatabaseSchemaView, TableSchemaView

from ...dataplane.postgres.listing import ListedDatabase, fingerprints, read_schema
from ...errors import DataServiceError
from ...service.core import DataService, running_service
from .. import instance
from ..context import endpoint
from .mount import PG_MOUNT, through_mount

log = logging.getLogger(__name__)
BASE = "^" + PG_MOUNT + r"/(?P<database>[^/.]+)"


class Mirrors:
    """One Datasette's mirrors, and what they were last built from."""

    def __init__(self) -> None:
        self.databases: dict[str, ListedDatabase] = {}
        self.built_from: Any = None
        self.lock = asyncio.Lock()


_mirrors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state(service: DataService) -> tuple[int, tuple[str, ...]]:
    return service.catalog_version, tuple(service.postgres_targets)


async def sync(datasette, service: DataService) -> None:
    """Register, rebuild or remove mirrors so they match what the data service serves."""
    mirrors = _mirrors.setdefault(datasette, Mirrors())
    if mirrors.built_from == _state(service):
        return
    async with mirrors.lock:
        state = _state(service)  # read before PostgreSQL is: a later change syncs again
        if mirrors.built_from == state:
            return
        targets = dict(service.postgres_targets)
        changed = await _rebuild(datasette, mirrors, targets, await fingerprints(service))
        mirrors.built_from = state
    if changed:  # core's catalog would otherwise lag up to a second
        await datasette.refresh_schemas(force=True)


async def _rebuild(datasette, mirrors: Mirrors, targets: dict, fingerprints: dict) -> bool:
    changed = False
    for name, mirror in list(mirrors.databases.items()):
        registered = datasette.databases.get(name) is mirror
        if registered and targets.get(name) == mirror.target:
            continue
        del mirrors.databases[name]  # not served any more, or detached and served again
        if registered:
            datasette.remove_database(name)  # closes it
        else:
            mirror.close()
        changed = True
    for name, target in targets.items():
        mirror = mirrors.databases.get(name)
        if mirror is None:
            if name in datasette.databases:
                continue  # not ours: never shadow a database Datasette serves itself
            mirror = mirrors.databases[name] = ListedDatabase(datasette, target)
            datasette.add_database(mirror, name=name)
            changed = True
        fingerprint = fingerprints.get(name, ())
        if fingerprint == mirror.fingerprint:
            continue  # none of its datatables changed
        try:
            statements, mirror.postgres_size = await read_schema(target)
        except (DatasetteError, DataServiceError, psycopg.Error) as error:
            log.warning("could not read the schema of %s for listings: %s", name, error)
            continue  # listed as last read; the next catalog change tries again
        changed = await mirror.mirror(statements) or changed
        mirror.fingerprint = fingerprint
    return changed


def keep_listed(datasette, app):
    """ASGI wrapper: mirrors in step with the data service before each request."""

    async def listed(scope, receive, send):
        if scope["type"] == "http":
            service = running_service(datasette)
            if service is not None:
                await sync(datasette, service)
        await app(scope, receive, send)

    return listed


def routes(datasette) -> list[tuple[str, Any]]:
    """One database's listings under the mount; before the mount's catch-all 404."""
    return [
        (
            BASE + r"/-/resources\.json$",
            through_mount(endpoint(get=instance.database_resources, uses_catalog=False)),
        ),
        (
            BASE + r"/-/schema(\.(?P<format>json|md))?$",
            through_mount(DatabaseSchemaView.as_view(datasette)),
        ),
        (
            BASE + r"/(?P<table>[^/.]+)/-/schema(\.(?P<format>json|md))?$",
            through_mount(TableSchemaView.as_view(datasette)),
        ),
    ]
