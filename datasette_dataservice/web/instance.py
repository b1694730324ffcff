"""The 1.0 proposal's instance endpoints that core 1.0a41 lacks, for every database served.

    GET /-/instance.json          first 100 databases, tables, views and queries, with counts
    GET /-/resources.json         every table, view and query, paginated
    GET /{db}/-/resources.json    the same for one database

Visibility is Datasette's: databases come from ``allowed_resources("view-database")``, tables
and views from ``allowed_resources_sql("view-table")``, queries (configured and stored) from
``allowed_resources_sql("view-query")``. A table, view or query is listed only when its database
is visible too, as on core's index and database pages, so a database an actor may not view
(the plugin's ``_dataservice`` catalog for everyone but root) appears nowhere.

Resources are ordered by (database, type, name), types ordered query < table < view; the
``next`` token is that key of a page's last resource, tilde-encoded and comma-separated like
core's own keyset tokens.
"""

from __future__ import annotations

import json
from typing import Any

from datasette.extras import extra_names_from_request
from datasette.resources import DatabaseResource
from datasette.utils import add_cors_headers, tilde_decode, tilde_encode, urlsafe_components

from ..errors import BadRequest, Forbidden, NotFound
from ..service.listing import Page
from . import requests, responses
from .context import Call, endpoint

TYPES = ("query", "table", "view")  # the keyset's order of types within a database
PLURAL = {"table": "tables", "view": "views", "query": "queries"}
FIRST = 100  # entries per kind in /-/instance.json, as the proposal says

# Each select yields (database, type, name, private, title, is_write) from Datasette's
# internal database, joined with the permission SQL core builds for the actor.
TABLES_SQL = """
SELECT a.parent AS database,
       CASE WHEN v.view_name IS NULL THEN 'table' ELSE 'view' END AS type,
       a.child AS name, a.is_private AS private, NULL AS title, NULL AS is_write
FROM ({allowed}) AS a
LEFT JOIN catalog_views AS v ON v.database_name = a.parent AND v.view_name = a.child
WHERE a.parent IN (SELECT value FROM json_each(:_dsv_databases))
"""
# Core's is_private leaves out the owner-only restriction on private stored queries (1.0a41
# says "private": false for them, though anonymous is refused), so the query's flag counts too.
QUERIES_SQL = """
SELECT a.parent AS database, 'query' AS type, a.child AS name,
       max(a.is_private, q.is_private) AS private,
       q.title AS title, q.is_write AS is_write
FROM ({allowed}) AS a
JOIN queries AS q ON q.database_name = a.parent AND q.name = a.child
WHERE a.parent IN (SELECT value FROM json_each(:_dsv_databases))
"""


class Listing:
    """What one actor may see, on one request: databases, then resources on demand."""

    def __init__(self, call: Call, databases: dict[str, bool], parent: str | None = None):
        self.datasette = call.datasette
        self.request = call.request
        self.actor = call.actor
        self.databases = databases  # name -> private, sorted by name
        self.parent = parent
        self._hidden: dict[str, set[str]] = {}
        self._sql: dict[str, tuple[str, dict]] = {}

    @classmethod
    async def for_instance(cls, call: Call) -> Listing:
        datasette = call.datasette
        await datasette.refresh_schemas()
        if not await datasette.allowed(action="view-instance", actor=call.actor):
            raise Forbidden("You do not have permission to view this instance")
        page = await datasette.allowed_resources(
            "view-database", call.actor, include_is_private=True, limit=1000
        )
        databases = {
            r.parent: r.private async for r in page.all() if r.parent in datasette.databases
        }
        return cls(call, dict(sorted(databases.items())))

    @classmethod
    async def for_database(cls, call: Call) -> Listing:
        datasette = call.datasette
        await datasette.refresh_schemas()
        route = tilde_decode(call.vars["database"])
        try:
            db = datasette.get_database(route=route)
        except KeyError:
            raise NotFound(f'Database "{route}" does not exist') from None
        visible, private = await datasette.check_visibility(
            call.actor, action="view-database", resource=DatabaseResource(db.name)
        )
        if not visible:  # core's /{db}.json says 403 here too
            raise Forbidden("You do not have permission to view this database")
        return cls(call, {db.name: private}, parent=db.name)

    def url(self, path: str) -> str:
        return self.datasette.absolute_url(self.request, path)

    async def _selects(self, types: set[str]) -> list[tuple[str, dict]]:
        """The selects that yield ``types``; core's permission SQL is built once a request."""
        selects = []
        for action, sql, kinds in (
            ("view-table", TABLES_SQL, {"table", "view"}),
            ("view-query", QUERIES_SQL, {"query"}),
        ):
            if types & kinds:
                if action not in self._sql:
                    allowed, params = await self.datasette.allowed_resources_sql(
                        action=action, actor=self.actor, parent=self.parent, include_is_private=True
                    )
                    scope = {"_dsv_databases": json.dumps(list(self.databases))}
                    self._sql[action] = (sql.format(allowed=allowed), {**params, **scope})
                selects.append(self._sql[action])
        return selects

    async def _execute(self, sql: str, params: dict) -> list:
        return list((await self.datasette.get_internal_database().execute(sql, params)).rows)

    async def counts(self, types: set[str]) -> dict[str, int]:
        counts = dict.fromkeys(sorted(types), 0)
        for select, params in await self._selects(types):
            sql = (
                f"SELECT type, count(*) FROM ({select})"
                " WHERE type IN (SELECT value FROM json_each(:_dsv_types)) GROUP BY type"
            )
            for kind, n in await self._execute(
                sql, {**params, "_dsv_types": json.dumps(sorted(types))}
            ):
                counts[kind] = n
        return counts

    async def rows(self, types: set[str], after: tuple[str, str, str] | None, limit: int) -> list:
        """Up to ``limit`` resources after the ``after`` key, in keyset order."""
        rows = []
        for select, params in await self._selects(types):
            where = "type IN (SELECT value FROM json_each(:_dsv_types))"
            params = {**params, "_dsv_types": json.dumps(sorted(types)), "_dsv_limit": limit}
            if after is not None:
                where += " AND (database, type, name) > (:_dsv_db, :_dsv_type, :_dsv_name)"
                params.update(zip(("_dsv_db", "_dsv_type", "_dsv_name"), after, strict=True))
            sql = (
                f"SELECT * FROM ({select}) WHERE {where}"
                " ORDER BY database, type, name LIMIT :_dsv_limit"
            )
            rows.extend(await self._execute(sql, params))
        # Python orders str by code point, as SQLite's BINARY collation orders UTF-8 bytes.
        return sorted(rows, key=lambda r: (r["database"], r["type"], r["name"]))[:limit]

    async def entries(self, rows: list) -> list[dict[str, Any]]:
        return [await self.entry(row) for row in rows]

    async def entry(self, row) -> dict[str, Any]:
        database, kind, name = row["database"], row["type"], row["name"]
        urls = self.datasette.urls
        path = urls.query(database, name) if kind == "query" else urls.table(database, name)
        entry = {
            "type": kind,
            "database": database,
            "name": name,
            "url": self.url(path),
            "json_url": self.url(path + ".json"),
            # Anonymous cannot see it here if it cannot see the resource or its database.
            "private": bool(row["private"]) or self.databases[database],
        }
        if kind == "table":
            entry["hidden"] = name in await self._hidden_tables(database)
        if kind == "query":
            entry["title"] = row["title"]
            entry["is_write"] = bool(row["is_write"])
        return entry

    async def _hidden_tables(self, database: str) -> set[str]:
        if database not in self._hidden:
            db = self.datasette.get_database(database)
            self._hidden[database] = set(await db.hidden_table_names())
        return self._hidden[database]

    def database_entry(self, name: str) -> dict[str, Any]:
        db = self.datasette.get_database(name)
        path = self.datasette.urls.database(name)
        return {
            "database": name,
            "name": name,
            "route": db.route,
            "url": self.url(path),
            "json_url": self.url(path + ".json"),
            "resources_url": self.url(path + "/-/resources.json"),
            "private": self.databases[name],
            "is_mutable": db.is_mutable,
            "is_memory": db.is_memory,
        }


def _extras(request, allowed: set[str]) -> set[str]:
    """``?_extra=`` names, refused when unknown as core's JSON endpoints do."""
    extras = extra_names_from_request(request)
    unknown = sorted(extras - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise BadRequest(f"Unknown _extra: {', '.join(unknown)}; extras here: {known}")
    return extras


def _types(request) -> set[str]:
    values = {v for arg in request.args.getlist("type") for v in arg.split(",") if v}
    unknown = sorted(values - set(TYPES))
    if unknown:
        raise BadRequest(f'"type" must be table, view or query, not {", ".join(unknown)}')
    return values or set(TYPES)


def _token(row) -> str:
    return ",".join(tilde_encode(row[key]) for key in ("database", "type", "name"))


def _after(request, parent: str | None) -> tuple[str, str, str] | None:
    token = request.args.get("_next")
    if token is None:
        return None
    parts = urlsafe_components(token)
    if len(parts) != 3 or parts[1] not in TYPES or (parent is not None and parts[0] != parent):
        raise BadRequest('"_next" must be the token returned as "next" by the previous page')
    return parts[0], parts[1], parts[2]


async def instance(call: Call):
    listing = await Listing.for_instance(call)
    extras = _extras(call.request, allowed={"metadata"})
    data: dict[str, Any] = {}
    if "metadata" in extras:
        data["metadata"] = await call.datasette.get_instance_metadata()
    names = list(listing.databases)
    data["databases"] = {
        "count": len(names),
        "truncated": len(names) > FIRST,
        "entries": [listing.database_entry(name) for name in names[:FIRST]],
    }
    counts = await listing.counts(set(TYPES))
    for kind in ("table", "view", "query"):
        rows = await listing.rows({kind}, after=None, limit=FIRST)
        data[PLURAL[kind]] = {
            "count": counts[kind],
            "truncated": counts[kind] > FIRST,
            "entries": await listing.entries(rows),
        }
    data["resources_url"] = listing.url(call.datasette.urls.path("/-/resources.json"))
    return _cors(call, responses.ok(data))


async def resources(call: Call):
    listing = await Listing.for_instance(call)
    return await _resources_page(call, listing)


async def database_resources(call: Call):
    listing = await Listing.for_database(call)
    return await _resources_page(call, listing)


async def _resources_page(call: Call, listing: Listing):
    request = call.request
    _extras(request, allowed=set())
    size = requests.page_size(request)
    types = _types(request)
    rows = await listing.rows(types, after=_after(request, listing.parent), limit=size + 1)
    count = sum((await listing.counts(types)).values())
    more = len(rows) > size
    rows = rows[:size]
    page = Page(rows, count, _token(rows[-1]) if more and rows else None)
    entries = await listing.entries(rows)
    return _cors(call, responses.page(call.datasette, request, "resources", page, entries))


def _cors(call: Call, response):
    if call.datasette.cors:
        add_cors_headers(response.headers)
    return response


ROUTES: list[tuple[str, Any]] = [
    (r"^/-/instance\.json$", endpoint(get=instance, uses_catalog=False)),
    (r"^/-/resources\.json$", endpoint(get=resources, uses_catalog=False)),
    (
        r"^/(?P<database>[^/.]+)/-/resources\.json$",
        endpoint(get=database_resources, uses_catalog=False),
    ),
]
