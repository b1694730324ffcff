"""Catalog rows as API objects, with the URLs a client needs next."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from ..service.core import service_for
from .database_urls import Urls as DatabaseUrls

APPS = "/-/apps"


def timestamp(value: str | None) -> str | None:
    """Catalog times keep microseconds; the API shows whole seconds, as the seed does."""
    return value[:19] + "Z" if value else None


def _times(row: dict) -> dict[str, Any]:
    return {
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
        "deleted_at": timestamp(row["deleted_at"]),
    }


def app_path(slug: str) -> str:
    return f"{APPS}/{slug}"


def datasource_path(app_slug: str, slug: str) -> str:
    return f"{APPS}/{app_slug}/datasources/{slug}"


def datatable_path(app_slug: str, ds_slug: str, name: str) -> str:
    return f"{datasource_path(app_slug, ds_slug)}/datatables/{name}"


class Serializer:
    """Turns catalog rows into response objects; URLs are absolute for the current request."""

    def __init__(self, datasette, request):
        self.datasette = datasette
        self.request = request

    def url(self, path: str) -> str:
        return self.datasette.absolute_url(self.request, self.datasette.urls.path(path))

    def app(self, row: dict) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "slug": row["slug"],
            "description": row["description"],
            "datasource_count": row["datasource_count"],
            "table_count": row["table_count"],
            "is_active": bool(row["is_active"]),
            **_times(row),
            "url": self.url(app_path(row["slug"]) + ".json"),
            "datasources_url": self.url(app_path(row["slug"]) + "/datasources.json"),
            "datatables_url": self.url(app_path(row["slug"]) + "/datatables.json"),
        }

    def datasource(self, row: dict) -> dict[str, Any]:
        path = datasource_path(row["app_slug"], row["slug"])
        database = row["database_name"]
        return {
            "id": row["id"],
            "app": row["app_slug"],
            "name": row["name"],
            "slug": row["slug"],
            "description": row["description"],
            "provider_type": row["provider_type"],
            "provider_config": json.loads(row["provider_config"]),
            "engine": row["engine"],
            "database": database,
            "table_count": row["table_count"],
            "is_active": bool(row["is_active"]),
            **_times(row),
            "url": self.url(path + ".json"),
            "datatables_url": self.url(path + "/datatables.json"),
            "database_url": self._data_url(
                database, lambda urls: urls.database(database, format="json")
            ),
        }

    def datatable(self, row: dict, data_resource: str) -> dict[str, Any]:
        path = datatable_path(row["app_slug"], row["datasource_slug"], row["name"])
        database = row["database_name"]
        sql = f'select * from "{data_resource}" limit 101'
        return {
            "id": row["id"],
            "app": row["app_slug"],
            "datasource": row["datasource_slug"],
            "name": row["name"],
            "description": row["description"],
            "provider_type": row["provider_type"],
            "engine": row["engine"],
            "json_schema": json.loads(row["json_schema"]),
            "schema_hash": row["schema_hash"],
            "schema_version": row["schema_version"],
            "physical_table_name": row["physical_table_name"],
            "is_materialized": bool(row["is_materialized"]),
            "is_active": bool(row["is_active"]),
            **_times(row),
            "database": database,
            "table": data_resource,
            "url": self.url(path + ".json"),
            "schema_url": self.url(path + "/schema.json"),
            "operations_url": self.url(path + "/operations.json"),
            "table_url": self._data_url(database, lambda u: u.table(database, data_resource)),
            "json_url": self._data_url(
                database, lambda u: u.table(database, data_resource, format="json")
            ),
            "query_url": self._data_url(
                database,
                lambda u: (
                    u.database(database) + "/-/query.json?" + urllib.parse.urlencode({"sql": sql})
                ),
            ),
            "insert_url": self._data_url(
                database, lambda u: u.table(database, row["physical_table_name"]) + "/-/insert"
            ),
        }

    def database_page_url(self, database: str) -> str | None:
        """The HTML page of a datasource's database (Datasette's ``urls.database`` knows
        only Datasette's own databases, not Postgres-backed ones)."""
        return self._data_url(database, lambda urls: urls.database(database))

    def _data_url(self, database: str, build) -> str | None:
        """A URL of Datasette's data plane; None while the database is not served
        (its datasource or app is soft-deleted)."""
        if database in self.datasette.databases:
            return self.url(build(self.datasette.urls))
        if service_for(self.datasette).postgres_target(database) is not None:
            return self.url(build(DatabaseUrls(self.datasette)))
        return None

    @staticmethod
    def operation(row: dict) -> dict[str, Any]:
        def parsed(value):
            return json.loads(value) if value is not None else None

        return {
            "id": row["id"],
            "operation": row["operation"],
            "target_type": row["target_type"],
            "target": row["target"],
            "actor": row["actor"],
            "status": row["status"],
            "schema_before": parsed(row["schema_before"]),
            "schema_after": parsed(row["schema_after"]),
            "sql": parsed(row["sql"]),
            "details": parsed(row["details"]),
            "duration_ms": row["duration_ms"],
            "error": row["error"],
            "app_id": row["app_id"],
            "datasource_id": row["datasource_id"],
            "datatable_id": row["datatable_id"],
            "created_at": timestamp(row["created_at"]),
        }
