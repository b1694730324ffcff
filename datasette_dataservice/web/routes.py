"""The control plane's route table: ``/-/apps/...`` and the seed's ``/api/apps/...``."""

from __future__ import annotations

from ..errors import NotFound
from . import apps, datapackage, datasources, datatables, instance, pages, responses
from .context import endpoint
from .core_writes import core_write_view
from .postgres import routes as postgres_routes
from .postgres.mount import PG_MOUNT

PREFIX = r"^/(?:-|api)/apps"
APP = r"/(?P<app>[^/]+?)"
DS = r"/datasources/(?P<ds>[^/]+?)"
TABLE = r"/datatables/(?P<table>[^/]+?)"
# Optional ".json" and optional trailing slash, so the seed's paths work verbatim.
END = r"(?:\.json)?/?$"
ACTION_END = r"/?$"


# Datasette's own write endpoints, with core's patterns (see web/core_writes.py).
CORE_TABLE = r"^/(?P<database>[^\/\.]+)/(?P<table>[^\/\.]+)/-/"
CORE_ROW = r"^/(?P<database>[^\/\.]+)/(?P<table>[^/]+?)/(?P<pks>[^/]+?)/-/"
# The same endpoints of Postgres-backed tables, at their mount (see web/postgres/mount.py).
PG_TABLE = "^" + PG_MOUNT + r"/(?P<database>[^/.]+)/(?P<table>[^/.]+)/-/"
PG_ROW = "^" + PG_MOUNT + r"/(?P<database>[^/.]+)/(?P<table>[^/]+?)/(?P<pks>[^/]+?)/-/"
TABLE_WRITES = ("insert", "upsert", "alter", "drop", "set-column-type")


def route_table() -> list[tuple[str, object]]:
    table_base = PREFIX + APP + DS + TABLE
    core_writes = [(CORE_TABLE + f"{kind}$", core_write_view(kind)) for kind in TABLE_WRITES]
    postgres_writes = [
        *((PG_TABLE + f"{kind}$", core_write_view(kind, postgres=True)) for kind in TABLE_WRITES),
        *(
            (PG_ROW + f"{kind}$", core_write_view(kind, postgres=True))
            for kind in ("update", "delete")
        ),
    ]
    return [
        *postgres_routes.ROUTES,  # the Postgres data plane's reads (web/postgres/)
        *postgres_writes,
        *datapackage.ROUTES,
        *instance.ROUTES,
        *core_writes,
        (CORE_ROW + "update$", core_write_view("update")),
        (CORE_ROW + "delete$", core_write_view("delete")),
        (PREFIX + END, endpoint(pages.apps_page, get=apps.list_apps, post=apps.create_app)),
        (r"^/-/apps/openapi\.json$", endpoint(get=apps.openapi_json)),
        (PREFIX + APP + "/stats" + END, endpoint(get=apps.app_stats)),
        (PREFIX + APP + "/operations" + END, endpoint(get=apps.app_operations)),
        (PREFIX + APP + "/restore" + ACTION_END, endpoint(post=apps.restore_app)),
        (PREFIX + APP + "/datatables/stats" + END, endpoint(get=datatables.datatables_stats)),
        (PREFIX + APP + "/datatables" + END, endpoint(get=datatables.list_app_datatables)),
        (
            PREFIX + APP + "/datasources" + END,
            endpoint(get=datasources.list_datasources, post=datasources.create_datasource),
        ),
        (PREFIX + APP + DS + "/stats" + END, endpoint(get=datasources.datasource_stats)),
        (
            PREFIX + APP + DS + "/restore" + ACTION_END,
            endpoint(post=datasources.restore_datasource),
        ),
        (
            PREFIX + APP + DS + "/datatables" + END,
            endpoint(get=datatables.list_datatables, post=datatables.create_datatable),
        ),
        (table_base + "/schema" + END, endpoint(get=datatables.read_schema)),
        (table_base + "/schema/plan" + ACTION_END, endpoint(post=datatables.plan_schema_change)),
        (table_base + "/schema/diff" + END, endpoint(get=datatables.schema_diff)),
        (table_base + "/operations" + END, endpoint(get=datatables.datatable_operations)),
        (table_base + "/restore" + ACTION_END, endpoint(post=datatables.restore_datatable)),
        (table_base + "/validate" + ACTION_END, endpoint(post=datatables.validate_rows)),
        (table_base + "/import" + ACTION_END, endpoint(post=datatables.import_rows)),
        (
            table_base + r"/imports/(?P<import_id>[^/]+?)" + END,
            endpoint(get=datatables.import_status),
        ),
        (table_base + "/materialize" + ACTION_END, endpoint(post=datatables.materialize_datatable)),
        (
            table_base + END,
            endpoint(
                pages.datatable_page,
                get=datatables.read_datatable,
                put=datatables.update_datatable,
                patch=datatables.update_datatable,
                delete=datatables.delete_datatable,
            ),
        ),
        (
            PREFIX + APP + DS + END,
            endpoint(
                get=datasources.read_datasource,
                patch=datasources.update_datasource,
                put=datasources.update_datasource,
                delete=datasources.delete_datasource,
            ),
        ),
        (
            PREFIX + APP + END,
            endpoint(
                pages.app_page,
                get=apps.read_app,
                patch=apps.update_app,
                put=apps.update_app,
                delete=apps.delete_app,
            ),
        ),
        ("^" + PG_MOUNT + "/", postgres_elsewhere),
    ]


async def postgres_elsewhere(request):
    """Every other path of a Postgres-backed database (core's ``/-/create``, ``.db``
    downloads, ...): those are SQLite-only, so they answer 404 in Datasette's shape."""
    return responses.error(
        NotFound(
            f"{request.path.removeprefix(PG_MOUNT)} is not available: this database is "
            "served from PostgreSQL; change its tables through the data service (/-/apps)"
        )
    )
