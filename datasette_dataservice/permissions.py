"""The data service's Datasette actions, and the rules it adds to Datasette's permissions.

Actions on one app take an ``AppResource`` whose parent is the app slug, so datasette.yml
blocks and token restrictions keyed by that slug scope them (``"r"``/``"d"`` entries name
the app slug where core would name a database).
"""

from __future__ import annotations

import json

from datasette.permissions import Action, PermissionSQL, Resource
from datasette.resources import DatabaseResource

from .config import CATALOG_DATABASE
from .service.core import service_for
from .tenancy import current_tenant, hidden_databases

VIEW_APP = "dataservice-view-app"
CREATE_APP = "dataservice-create-app"
MANAGE_APP = "dataservice-manage-app"
CHANGE_SCHEMA = "dataservice-change-schema"
PURGE = "dataservice-purge"


class AppResource(Resource):
    """A data service app, named by its slug."""

    name = "dataservice-app"
    parent_class = None

    def __init__(self, app_slug: str):
        super().__init__(parent=app_slug, child=None)

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
    """
    if action == VIEW_APP and not datasette.default_deny:
        return PermissionSQL.allow(reason="data service apps are readable like tables")
    rules = []
    tenant = current_tenant.get()
    if tenant is not None and _takes_database(datasette, action):
        hidden = hidden_databases(
            tenant, datasette.databases, service_for(datasette).managed_databases
        )
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
    if action in SCHEMA_ACTIONS:
        return _with_tables(datasette, rules, MANAGED_REASON)
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


MANAGED_REASON = "managed by the data service: change its schema through /-/apps"


def _is_root(actor: dict | None) -> bool:
    return bool(actor and actor.get("id") == "root")


def _with_tables(datasette, rules: list[PermissionSQL], reason: str):
    """Add a deny for every managed table to ``rules``."""

    async def rules_with_tables() -> list[PermissionSQL]:
        try:
            service = service_for(datasette)
        except KeyError:  # not started yet: nothing is managed
            return rules
        tables = await service.managed_tables()
        if not tables:
            return rules
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
