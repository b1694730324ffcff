"""The DataService object: catalog access, attached databases and providers, in one place."""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import weakref
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from datasette.database import Database

from ..catalog import store, targets
from ..catalog.engines import Catalog, open_catalog
from ..config import DataServiceConfig
from ..errors import BadRequest, NotFound, NotImplementedProvider
from ..providers.base import Provider
from ..providers.postgres_isolation import new_database_name
from ..providers.postgres_storage import PostgresConnections, PostgresTarget, schema_name
from ..providers.registry import KNOWN_PROVIDER_TYPES, provider_classes
from .request_cache import cached_read
from .schema_lock import schema_lock

T = TypeVar("T")


_services: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def service_for(datasette) -> DataService:
    """The DataService started for this Datasette instance."""
    return _services[datasette]


def running_service(datasette) -> DataService | None:
    """The data service if it has started (its catalog attached), else None."""
    service = _services.get(datasette)
    return service if service is not None and service.catalog is not None else None


# Shared by every DataService of one Datasette, so wrappers built before start-up see it.
_managed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def managed_databases_of(datasette) -> set[str]:
    """The names of the databases the data service manages (a live set)."""
    return _managed.setdefault(datasette, set())


def is_managed_database(datasette, name: str) -> bool:
    service = _services.get(datasette)
    return service is not None and name in service.managed_databases


class DataService:
    """Everything a use case needs: the catalog database, data directory and providers."""

    def __init__(self, datasette, config: DataServiceConfig):
        self.datasette = datasette
        self.config = config
        self.catalog: Catalog | None = None
        self.managed_databases: set[str] = managed_databases_of(datasette)
        self.catalog_version = 0
        # Every read() and write() is one catalog round trip (tests count them per request).
        self.catalog_round_trips = 0
        self._tables: tuple[int, list] | None = None
        self._in_database: tuple[int, dict[str, list]] = (-1, {})
        self._cache_lock = asyncio.Lock()  # one read fills a cache for concurrent askers
        self._syncing: asyncio.Future | None = None
        self._sync_again = False
        # Schema changes to one datatable run one at a time: take them with schema_lock().
        self.schema_locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.sweeper = None  # service.sweeper.Sweeper, on a shared catalog
        # (datatable id, import id) -> ImportStatus of the imports running on this node (the
        # catalog has every import's: service.import_progress). An import is found through
        # its own datatable only, never through a same-named one of another tenant.
        self.imports: dict[tuple[int, str], Any] = {}
        self.postgres = PostgresConnections(config.postgres, secret=datasette._secret)
        # Database name -> where a Postgres-backed datasource lives (served by web/postgres).
        self.postgres_targets: dict[str, PostgresTarget] = {}
        _services[datasette] = self

    async def start(self) -> None:
        """Open the catalog (migrated to the newest version) and attach every datasource.
        DataDirInUse when another process holds a SQLite catalog's data directory."""
        self.catalog = await open_catalog(self.datasette, self.config)
        await self._give_postgres_datasources_databases()
        for datasource in await self.read(store.all_active_datasources):
            self.attach_datasource(datasource)
        self.catalog.listen(self._changed_elsewhere)

    def _changed_elsewhere(self) -> None:
        """Another node changed the shared catalog: what this one cached is stale, and the
        datasources it serves may have been created, deleted or restored."""
        self.catalog_version += 1
        if self._syncing is None or self._syncing.done():
            self._syncing = asyncio.ensure_future(self.sync_datasources())
        else:
            self._sync_again = True

    async def sync_datasources(self) -> None:
        """Serve exactly the active datasources the catalog lists (Postgres-backed ones: a
        shared catalog has no others)."""
        while True:
            self._sync_again = False
            active = await self.read(store.all_active_datasources)
            for datasource in active:
                self.attach_datasource(datasource)
            names = {d["database_name"] for d in active}
            for name in [n for n in self.postgres_targets if n not in names]:
                self.detach(name)
            self.catalog_version += 1
            if not self._sync_again:
                return

    async def _give_postgres_datasources_databases(self) -> None:
        """A catalog from before datasources had databases of their own names one for each
        (their tables stay in the connection's database: move them with pg_dump/psql)."""
        rows = await self.read(
            lambda conn: conn.execute(
                "SELECT id, provider_config FROM datasources WHERE engine = 'postgres'"
            ).fetchall()
        )
        changes = []
        for datasource_id, raw in rows:
            config = json.loads(raw)
            if config.get("database") is not None:
                continue
            connection = self.config.postgres.get(config.get("connection"))
            config["database"] = new_database_name(connection.schema_prefix if connection else "")
            changes.append((json.dumps(config), datasource_id))
        if changes:
            await self.write(
                lambda conn: conn.executemany(
                    "UPDATE datasources SET provider_config = ? WHERE id = ?", changes
                )
            )

    async def close(self) -> None:
        """Close the Postgres pools (SQLite databases close with Datasette)."""
        if self._syncing is not None:
            self._syncing.cancel()
        if self.sweeper is not None:
            await self.sweeper.stop()
        await self.postgres.close()
        if self.catalog is not None:
            await self.catalog.close()

    def schema_lock(self, datatable_id: int) -> AbstractAsyncContextManager[None]:
        """Held while the datatable's schema changes, on this node and every other."""
        return schema_lock(self, datatable_id)

    # Catalog access -----------------------------------------------------------------------

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.catalog_round_trips += 1
        return await self.catalog.read(lambda conn: fn(conn, *args, **kwargs))

    async def write(self, fn: Callable[[Any], T], *, changes_catalog: bool = True) -> T:
        """Run ``fn(conn)`` in one catalog transaction on the write thread; with
        ``changes_catalog=False`` (an audit entry alone), what was cached stays valid."""
        self.catalog_round_trips += 1
        try:
            return await self.catalog.write(fn, notify=changes_catalog)
        finally:
            if changes_catalog:
                self.catalog_version += 1  # what was cached from the catalog is stale

    # Storage and providers ------------------------------------------------------------------

    def attach_datasource(self, row: dict[str, Any]) -> Database | PostgresTarget:
        """The storage of a datasource (or of a datatable's datasource), attached if needed."""
        if row["engine"] == "postgres":
            return self._attach_postgres(row["database_name"], provider_config_of(row))
        return self.attach(row["database_name"], row["engine"])

    def attach(self, database_name: str, engine: str) -> Database:
        """The Datasette database of a SQLite datasource, attaching its file if needed."""
        if engine != "sqlite":
            raise NotImplementedProvider(f'engine "{engine}" is not available on this instance')
        self.managed_databases.add(database_name)
        if database_name in self.datasette.databases:
            return self.datasette.get_database(database_name)
        path = self.config.data_dir / f"{database_name}.db"
        if not path.exists():
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA journal_mode = wal")
        return self.datasette.add_database(
            Database(self.datasette, path=str(path), is_mutable=True), name=database_name
        )

    def _attach_postgres(self, database_name: str, provider_config: dict) -> PostgresTarget:
        """The target (connection, database, schema) of a Postgres-backed datasource."""
        target = self.postgres_targets.get(database_name)
        if target is not None:
            return target
        name = self.postgres_connection_name(provider_config.get("connection"))
        config = self.config.postgres[name]
        target = PostgresTarget(
            database_name=database_name,
            schema=schema_name(config.schema_prefix, database_name),
            connection_name=name,
            connections=self.postgres,
            database=provider_config["database"],
        )
        self.postgres_targets[database_name] = target
        self.managed_databases.add(database_name)
        return target

    def postgres_connection_name(self, connection: str | None) -> str:
        """The configured connection a datasource asks for (the only one if it names none)."""
        names = self.postgres.names()
        if not names:
            raise NotImplementedProvider(
                'engine "postgres" is not available on this instance: no PostgreSQL '
                "connection is configured (plugins.datasette-dataservice.postgres)"
            )
        if connection is None and len(names) == 1:
            return names[0]
        if connection not in names:
            raise BadRequest(
                '"provider_config.connection" must name a configured PostgreSQL connection: '
                + ", ".join(names)
            )
        return connection

    def postgres_target(self, database_name: str) -> PostgresTarget | None:
        """The target of a Postgres-backed datasource's database, or None."""
        return self.postgres_targets.get(database_name)

    def detach(self, database_name: str) -> None:
        """Stop serving a datasource's database (its file stays: soft delete keeps data)."""
        self.postgres_targets.pop(database_name, None)
        if database_name in self.datasette.databases:
            self.datasette.remove_database(database_name)

    async def attach_app_datasources(self, app_id: int, attached: bool) -> None:
        for datasource in await self.read(store.all_datasources_of_app, app_id):
            if attached and datasource["is_active"]:
                self.attach_datasource(datasource)
            elif not attached:
                self.detach(datasource["database_name"])

    @functools.cached_property
    def provider_classes(self) -> dict[tuple[str, str], type[Provider]]:
        """Registered once, at start-up; looked up on every write, so kept."""
        return provider_classes(self.datasette)

    def provider_class(self, provider_type: str, engine: str) -> type[Provider]:
        classes = self.provider_classes
        cls = classes.get((provider_type, engine))
        if cls is not None:
            return cls
        available = sorted({t for t, e in classes if e == engine})
        if not available:
            raise NotImplementedProvider(
                f'engine "{engine}" is not available on this instance: no provider is '
                'registered for it; use "sqlite"'
            )
        if provider_type in KNOWN_PROVIDER_TYPES or any(t == provider_type for t, _ in classes):
            raise NotImplementedProvider(
                f'provider_type "{provider_type}" is not available on engine "{engine}": '
                f"no provider is registered for it (it is planned). "
                f"Available: {', '.join(available)}"
            )
        raise BadRequest(
            f'"provider_type" must be one of {", ".join(available)}; got "{provider_type}"'
        )

    def data_resource(self, datatable: dict[str, Any]) -> str:
        """The table or view Datasette serves the datatable's rows from."""
        cls = self.provider_class(datatable["provider_type"], datatable["engine"])
        return cls.data_resource(datatable["physical_table_name"])

    async def managed_datatable(self, database_name: str, table: str) -> dict[str, Any] | None:
        """The live datatable stored in ``table`` (or served by it) of a managed database; a
        soft-deleted one's table is not in its database (service.softdelete)."""
        if database_name not in self.managed_databases:
            return None
        for datatable in await self._datatables_in(database_name):
            names = {datatable["physical_table_name"], self.data_resource(datatable)}
            live = datatable["is_materialized"] and datatable["is_active"]
            if live and table.lower() in {n.lower() for n in names}:
                return dict(datatable)
        return None

    async def _datatables_in(self, database_name: str) -> list[dict[str, Any]]:
        """The datatables of a database, cached until the catalog next changes (a page of
        a managed table asks several times, every write to one asks once)."""
        async with self._cache_lock:
            if self._in_database[0] != self.catalog_version:
                self._in_database = (self.catalog_version, {})
            cache = self._in_database[1]
            if database_name not in cache:
                cache[database_name] = await self.read(store.datatables_in_database, database_name)
            return cache[database_name]

    async def managed_tables(self) -> list[tuple[str, str]]:
        """(database, table or view) of every materialized datatable, deleted ones included.
        Cached until the catalog next changes; the permission checks of one page ask at
        once, and one read answers them all."""
        async with self._cache_lock:
            if self._tables is None or self._tables[0] != self.catalog_version:
                version, managed = self.catalog_version, []
                for datatable in await self.read(store.all_materialized_datatables):
                    for name in {datatable["physical_table_name"], self.data_resource(datatable)}:
                        managed.append((datatable["database_name"], name))
                self._tables = (version, managed)
            return self._tables[1]

    def provider_for(
        self, datatable_or_datasource: dict[str, Any], attach: bool = True
    ) -> Provider:
        """The provider on the datasource's storage; with ``attach=False`` a datasource that
        is not served (deleted as a whole) stays unserved."""
        row = datatable_or_datasource
        cls = self.provider_class(row["provider_type"], row["engine"])
        if attach or self._is_served(row["database_name"]):
            return cls(self.attach_datasource(row))
        if row["engine"] == "postgres":  # a target for this use only, not served
            target = self.attach_datasource(row)
            self.postgres_targets.pop(row["database_name"])
            return cls(target)
        path = self.config.data_dir / f"{row['database_name']}.db"
        return cls(Database(self.datasette, path=str(path), is_mutable=True))

    def _is_served(self, database_name: str) -> bool:
        return database_name in self.postgres_targets or database_name in self.datasette.databases

    # Lookups shared by the use cases --------------------------------------------------------

    async def app(self, tenant: str, slug: str, *, include_inactive: bool = False) -> dict:
        app, _, _ = await self.target(tenant, slug, include_inactive=include_inactive)
        return app

    async def datasource(
        self, tenant: str, app_slug: str, slug: str, *, include_inactive: bool = False
    ) -> dict:
        _, datasource, _ = await self.target(
            tenant, app_slug, slug, include_inactive=include_inactive
        )
        return datasource

    async def datatable(
        self,
        tenant: str,
        app_slug: str,
        datasource_slug: str,
        name: str,
        *,
        include_inactive: bool = False,
        fresh: bool = False,
    ) -> dict:
        """The datatable a path names; ``fresh`` reads the catalog again even if this request
        read it already (under a schema lock, where another node may have changed it)."""
        _, _, datatable = await self.target(
            tenant, app_slug, datasource_slug, name, include_inactive=include_inactive, fresh=fresh
        )
        return datatable

    async def target(
        self,
        tenant: str,
        app_slug: str,
        datasource_slug: str | None = None,
        name: str | None = None,
        *,
        include_inactive: bool = False,
        fresh: bool = False,
    ) -> tuple[dict, dict | None, dict | None]:
        """(app, datasource, datatable) a path names, in one catalog read (once a request,
        see service.request_cache); NotFound for the first that does not exist."""
        args = (tenant, app_slug, datasource_slug, name, include_inactive)
        if fresh:
            app, datasource, datatable = await self.read(targets.resolve_target, *args)
        else:
            app, datasource, datatable = await cached_read(self, targets.resolve_target, *args)
        if app is None:
            raise NotFound(f'App "{app_slug}" not found')
        if datasource_slug is not None and datasource is None:
            raise NotFound(f'DataSource "{datasource_slug}" not found in app "{app_slug}"')
        if name is not None and datatable is None:
            raise NotFound(
                f'DataTable "{name}" not found in datasource "{datasource_slug}" of app '
                f'"{app_slug}"'
            )
        return app, datasource, datatable


def provider_config_of(row: dict[str, Any]) -> dict[str, Any]:
    """A datasource's (or datatable's) provider_config, parsed."""
    config = row.get("provider_config") or "{}"
    return json.loads(config) if isinstance(config, str) else config
