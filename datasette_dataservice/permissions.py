"""The data service's Datasette actions, and the rules it adds to Datasette's permissions.

Actions on one app take an ``AppResource`` whose parent is the app slug, so datasette.yml
blocks and token restrictions keyed by that slug scope them (``"r"``/``"d"`` entries name
the app slug where core would name a database).
"""

from __future__ import annotations

from datasette.permissions import Action, PermissionSQL, Resource

from .config import CATALOG_DATABASE

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

CATALOG_ACTIONS = {"view-database", "view-table", "execute-sql", "view-database-download"}


def permission_rules(datasette, actor: dict | None, action: str) -> PermissionSQL | None:
    """Reading apps is allowed like reading tables; the catalog is for root alone."""
    if action == VIEW_APP and not datasette.default_deny:
        return PermissionSQL.allow(reason="data service apps are readable like tables")
    if action in CATALOG_ACTIONS and not (actor and actor.get("id") == "root"):
        return PermissionSQL(
            sql="SELECT :dataservice_catalog AS parent, NULL AS child, 0 AS allow,"
            " 'the data service catalog is visible to root only' AS reason",
            params={"dataservice_catalog": CATALOG_DATABASE},
        )
    return None
