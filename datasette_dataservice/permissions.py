"""The data service's Datasette actions, and the rules it adds to Datasette's permissions.

Actions on one app take an ``AppResource`` named like the app's databases: ``{tenant}--{slug}``,
plain ``{slug}`` for the default tenant (see ``tenancy.qualified``). datasette.yml blocks and
token restrictions keyed by that name scope them to one tenant's app (``"r"``/``"d"`` entries
name it where core would name a database).
"""

from __future__ import annotations

import json

from datasette.permissions import Action, PermissionSQL, Resource
from datasette.resources import DatabaseResource

from .config import CATALOG_DATABASE
from .service.core import DataService, running_service
from .tenancy import current_tenant, hidden_databases, qualified

VIEW_APP = "dataservice-view-app"
CREATE_APP = "dataservice-create-app"
MANAGE_APP = "dataservice-manage-app"
CHANGE_SCHEMA = "dataservice-change-schema"
PURGE = "dataservice-purge"


class AppResource(Resource):
    """A data service app, named ``{tenant}--{slug}`` (``{slug}`` in the default tenant)."""

    name = "dataservice-app"
    parent_class = None

    def __init__(self, name: str):
        super().__init__(parent=name, child=None)

    @classmethod
    def of(cls, tenant: str, app_slug: str) -> AppResource:
        return cls(qualified(tenant, app_slug))

    @classmethod
    async def resources_sql(cls, datasette, actor=None) -> str:
        # Apps live in the plugin's catalog, not in Datasette's internal database, so they
        # cannot be enumerated here; checks on a named app work without it.
        return "SELECT NULL AS parent, NULL AS child WHERE 0"


ACTIONS = (
    Action(
        name=VIEW_APP,
        abbr="dsva",
        description="View a data service app, its datasources and datatables",
        resource_class=AppResource,
    ),
    Action(name=CREATE_APP, abbr="dsca", description="Create data service apps"),
    Action(
        name=MANAGE_APP,
        abbr="dsma",
        description="Update, delete and restore an app, its datasources and datatables",
        resource_class=AppResource,
    ),
    Action(
        name=CHANGE_SCHEMA,
        abbr="dscs",
        description="Change the schemas of an app's datatables",
        resource_class=AppResource,
    ),
    Action(
        name=PURGE,
        abbr="dsp",
        description="Permanently drop an app's deleted datatables",
        resource_class=AppResource,
    ),
)

CATALOG_READ_ACTIONS = {"view-database", "view-table", "execute-sql", "view-database-download"}
# Core endpoints that change a table's schema behind the catalog's back.
SCHEMA_ACTIONS = {"alter-table", "set-column-type", "drop-table", "drop-view"}
CATALOG_WRITE_ACTIONS = SCHEMA_ACTIONS | {
    "insert-row",
    "update-row",
    "delete-row",
    "create-table",
    "create-view",
    "execute-write-sql",
}


def permission_rules(datasette, actor: dict | None, action: str):
    """The rules the data service adds to Datasette's permissions.

    - apps are readable like tables (unless Datasette runs with --default-deny);
    - the catalog database is readable by root alone and writable by nobody through core;
    - core's schema-changing endpoints are refused on managed tables, so the catalog and
      the physical tables cannot disagree.

    Before the data service has started (installed, not yet used) there is no catalog and
    no managed table: it adds no rule to core's actions, so core's checks run as without it.
    """
    if action == VIEW_APP and not datasette.default_deny:
        return PermissionSQL.allow(reason="data service apps are readable like tables")
    service = running_service(datasette)
    if service is None:
        return None
    rules = []
    tenant = current_tenant.get()
    if tenant is not None and _takes_database(datasette, action):
        served = [*datasette.databases, *service.postgres_targets]  # wherever it is served
        hidden = hidden_databases(tenant, served, service.managed_databases)
        if hidden:
            rules.append(
                PermissionSQL(
                    sql="SELECT value AS parent, NULL AS child, 0 AS allow,"
                    " 'another tenant''s database' AS reason"
                    " FROM json_each(:dataservice_hidden_databases)",
                    params={"dataservice_hidden_databases": json.dumps(hidden)},
                )
            )
    if action in CATALOG_READ_ACTIONS and not _is_root(actor):
        rules.append(_deny_database("the data service catalog is visible to root only"))
    if action in CATALOG_WRITE_ACTIONS:
        rules.append(_deny_database("the data service catalog changes through /-/apps only"))
    if action in UNVALIDATED_WRITE_ACTIONS or action == "view-query":
        rules.extend(_managed_database_rules(service, action))
    if action in SCHEMA_ACTIONS:
        return _with_tables(service, rules, MANAGED_REASON)
    return rules or None


def _takes_database(datasette, action: str) -> bool:
    """Whether ``action``'s resources live in a database (database, table, query...)."""
    definition = datasette.actions.get(action)
    resource = definition.resource_class if definition else None
    return resource is not None and (
        resource is DatabaseResource or resource.parent_class is DatabaseResource
    )


def _deny_database(reason: str) -> PermissionSQL:
    return PermissionSQL(
        sql="SELECT :dataservice_catalog AS parent, NULL AS child, 0 AS allow,"
        f" '{reason}' AS reason",
        params={"dataservice_catalog": CATALOG_DATABASE},
    )


# Core actions that write to a database without the row validator: refused on every database
# the data service manages (its rows change through the endpoints that validate them).
UNVALIDATED_WRITE_ACTIONS = {"execute-write-sql", "create-table", "create-view"}
OWNED_REASON = "a managed database changes through the data service only"


def _managed_database_rules(service: DataService, action: str) -> list[PermissionSQL]:
    """Deny core's unvalidated writes on managed databases; for ``view-query``, deny the
    stored write queries of managed databases, trusted ones (datasette.yml, plugins)
    included: those run without any other permission check."""
    managed = sorted(service.managed_databases)
    if not managed:
        return []
    if action == "view-query":
        sql = (
            "SELECT database_name AS parent, name AS child, 0 AS allow,"
            f" '{OWNED_REASON}' AS reason FROM queries WHERE is_write = 1"
            " AND database_name IN (SELECT value FROM json_each(:dataservice_managed))"
        )
    else:
        sql = (
            "SELECT value AS parent, NULL AS child, 0 AS allow,"
            f" '{OWNED_REASON}' AS reason FROM json_each(:dataservice_managed)"
        )
    return [PermissionSQL(sql=sql, params={"dataservice_managed": json.dumps(managed)})]


MANAGED_REASON = "managed by the data service: change its schema through /-/apps"


def _is_root(actor: dict | None) -> bool:
    return bool(actor and actor.get("id") == "root")


def _with_tables(service: DataService, rules: list[PermissionSQL], reason: str):
    """Add a deny for every managed table to ``rules``."""

    async def rules_with_tables() -> list[PermissionSQL]:
        tables = await service.managed_tables()
        if not tables:
            return rules or None
        return [
            *rules,
            PermissionSQL(
                # One JSON parameter, however many tables: [[database, table], ...]
                sql="SELECT json_extract(value, '$[0]') AS parent,"
                " json_extract(value, '$[1]') AS child, 0 AS allow,"
                f" '{reason}' AS reason"
                " FROM json_each(:dataservice_tables)",
                params={"dataservice_tables": json.dumps(tables)},
            ),
        ]

    return rules_with_tables
