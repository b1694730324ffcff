"""The canned (stored) queries of a Postgres-backed database, as core lists them.

Datasette keeps every query, configured or stored, in its internal ``queries`` table, for
any database name, so ``datasette.get_query`` finds a Postgres-backed database's queries.
Its listings do not: ``list_queries`` and ``count_queries`` join core's ``view-query``
permission SQL, whose resources are the queries of databases in ``catalog_databases``, and a
Postgres-backed database is not one of Datasette's own. This module lists them in core's
order and shape, deciding visibility query by query with ``check_visibility`` (the same
rules: config ``allow`` blocks, plugins' rules, the plugin's denial of write queries).

Core's ``/{db}/-/queries.json`` and ``/{db}/{query}/-/definition`` views are then served as
they are, over a view of Datasette (``_PostgresDatasette``) that lists these and knows the
database by name.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from datasette.resources import QueryResource
from datasette.stored_queries import StoredQueryPage, query_row_to_stored_query
from datasette.url_builder import Urls as CoreUrls
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import Request, Response
from datasette.views.stored_queries import QueryDefinitionView, QueryListView

from ...errors import NotFound
from .. import responses
from . import common, pages
from .mount import PG_MOUNT

SORT_KEY = "lower(coalesce(nullif(q.title, ''), q.name))"  # core's order: title, else name


async def list_queries(
    datasette,
    database: str,
    *,
    actor: dict | None = None,
    limit: int = 50,
    cursor: str | None = None,
    include_private: bool = False,
    **filters: Any,
) -> StoredQueryPage:
    """``datasette.list_queries(database, ...)`` for a Postgres-backed database."""
    limit = min(max(1, int(limit)), 1000)
    where, params = _filters(database, filters)
    components = _cursor(cursor)
    if components:
        where.append(f"({SORT_KEY}, q.name) > (:cursor_sort_key, :cursor_name)")
        params.update(cursor_sort_key=components[0], cursor_name=components[1])
    rows = await _rows(datasette, where, params)
    shown = []
    for row in rows:
        allowed, private = await _visibility(datasette, actor, database, row["name"])
        if allowed:
            shown.append((row, private))
            if len(shown) > limit:
                break
    has_more = len(shown) > limit
    shown = shown[:limit]
    queries = [
        query_row_to_stored_query(row, private=private if include_private else None)
        for row, private in shown
    ]
    next_token = None
    if has_more:
        last = shown[-1][0]
        next_token = f"{tilde_encode(last['sort_key'])},{tilde_encode(last['name'])}"
    return StoredQueryPage(queries=queries, next=next_token, has_more=has_more, limit=limit)


async def count_queries(
    datasette, database: str, *, actor: dict | None = None, **filters: Any
) -> int:
    """``datasette.count_queries(database, ...)`` for a Postgres-backed database."""
    where, params = _filters(database, filters)
    count = 0
    for row in await _rows(datasette, where, params):
        count += (await _visibility(datasette, actor, database, row["name"]))[0]
    return count


def _filters(database: str, filters: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Core's filters of ``list_queries``: q, is_write, is_private, is_trusted, source,
    owner_id."""
    where, params = ["q.database_name = :database"], {"database": database}
    if filters.get("q"):
        where.append(
            "(q.name LIKE :search OR q.title LIKE :search OR q.description LIKE :search"
            " OR q.sql LIKE :search)"
        )
        params["search"] = f"%{filters['q']}%"
    for flag in ("is_write", "is_private", "is_trusted"):
        if filters.get(flag) is not None:
            where.append(f"q.{flag} = :{flag}")
            params[flag] = int(bool(filters[flag]))
    for column in ("source", "owner_id"):
        if filters.get(column) is not None:
            where.append(f"q.{column} = :{column}")
            params[column] = filters[column]
    return where, params


def _cursor(cursor: str | None) -> list[str]:
    try:
        components = urlsafe_components(cursor) if cursor else []
    except ValueError:
        components = []
    return components if len(components) == 2 else []


async def _rows(datasette, where: list[str], params: dict[str, Any]) -> list:
    sql = (
        f"SELECT q.*, {SORT_KEY} AS sort_key FROM queries q WHERE {' AND '.join(where)}"
        " ORDER BY sort_key, q.name"
    )
    return list((await datasette.get_internal_database().execute(sql, params)).rows)


async def _visibility(datasette, actor, database: str, name: str) -> tuple[bool, bool]:
    allowed, private = await datasette.check_visibility(
        actor, action="view-query", resource=QueryResource(database=database, query=name)
    )
    return allowed, bool(private)


# Core's views over a Postgres-backed database ------------------------------------------------


class _PostgresDatasette:
    """Datasette as core's query list and definition views need to see it for one
    Postgres-backed database: that database by name, its queries listed as above."""

    def __init__(self, datasette, database: str):
        self._datasette = datasette
        self._database = SimpleNamespace(
            name=database, route=database, color=common.database_color(database)
        )
        self.urls = CoreUrls(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._datasette, name)

    async def resolve_database(self, request) -> SimpleNamespace:
        return self._database

    def get_database(self, name=None, route=None) -> SimpleNamespace:
        return self._database

    async def list_queries(self, database, **kwargs) -> StoredQueryPage:
        return await list_queries(self._datasette, self._database.name, **kwargs)

    async def count_queries(self, database=None, **kwargs) -> int:
        return await count_queries(self._datasette, self._database.name, **kwargs)


def _public(request) -> Request:
    """``request`` at its public path (core's views build links from ``request.path``)."""
    path = request.scope["path"].replace(PG_MOUNT, "", 1)
    raw = request.scope.get("raw_path")
    scope = dict(request.scope, path=path, route_path=common.public_path(request))
    if raw is not None:
        scope["raw_path"] = raw.replace(PG_MOUNT.encode(), b"", 1)
    return Request(scope, request.receive)


class _QueryList(QueryListView):
    """Core's query list; its page from core's template through
    dataservice_postgres_queries.html."""

    async def render(self, templates, request, context=None):
        database = self.ds.get_database().name
        context = {
            **(context or {}),
            "query_list_urls": self.ds.urls,
            "crumb_links": await common.crumbs(self.ds._datasette, request, database),
        }
        template = pages.core_named(self.ds, request, "dataservice_postgres_queries.html")
        return await super().render([template], request, context)


async def queries_view(datasette, request):
    """``/{db}/-/queries(.json)``: core's query list."""
    _, database = common.target_of(datasette, request)  # 404 unless served here
    view = _QueryList(_PostgresDatasette(datasette, database))
    return await view.dispatch_request(_public(request))


async def definition_view(datasette, request):
    """``/{db}/{query}/-/definition``: core's stored query definition."""
    _, database = common.target_of(datasette, request)
    view = QueryDefinitionView(_PostgresDatasette(datasette, database))
    return await view.dispatch_request(_public(request))


async def storing_elsewhere(request) -> Response:
    """``/{db}/-/queries/store``, ``/-/queries/analyze`` and ``/{db}/{query}/-/edit``,
    ``update``, ``delete``: core checks and classifies a query to store with SQLite's own
    analysis (``db.analyze_sql``), which a Postgres-backed database has no equivalent of, so
    they answer 404 here; queries stored otherwise (config, ``datasette.add_query``) run."""
    return responses.error(
        NotFound(
            f"{request.path.removeprefix(PG_MOUNT)} is not available: this database is served "
            "from PostgreSQL, where queries cannot be stored or edited through Datasette; "
            "configure them as canned queries (databases: {db: {queries: ...}} in Datasette's "
            "config)"
        )
    )
