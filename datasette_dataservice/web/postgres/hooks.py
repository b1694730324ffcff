"""The action menu hooks (``table_actions``, ``view_actions``, ``row_actions``,
``database_actions``, ``query_actions``) called with the arguments core's views pass.

The page hooks (``extra_template_vars``, ``extra_css_urls``, ``extra_js_urls``,
``extra_body_script``) are called by ``datasette.render_template`` itself, from the page's
``database``, ``table`` and ``columns`` (pages.py puts them in every page's context).

Core's own ``table_actions`` and ``database_actions`` (Alter table, Execute write SQL) are
for SQLite databases it serves (they look the database up among its own, a KeyError here)
and are left out; every plugin's are called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from datasette.plugins import pm
from datasette.utils import await_me_maybe

CORE_ONLY = {
    "table_actions": "datasette.default_table_actions",
    "database_actions": "datasette.default_database_actions",
}


def _hook(name: str):
    """``pm.hook.<name>``, without core's own implementation for SQLite databases."""
    plugin = pm.get_plugin(CORE_ONLY[name]) if name in CORE_ONLY else None
    if plugin is None:
        return getattr(pm.hook, name)
    return pm.subset_hook_caller(name, remove_plugins=[plugin])


async def _links(hook_results) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    for result in hook_results:
        found = await await_me_maybe(result)
        if found:
            links.extend(found)
    return links


def table_actions(
    datasette, request, database: str, table: str, is_view: bool
) -> Callable[[], Awaitable[list]]:
    """Core's ``actions`` for a table page: called as the template draws its menu."""

    async def actions() -> list[dict[str, Any]]:
        args = {"datasette": datasette, "database": database, "actor": request.actor}
        if is_view:
            return await _links(pm.hook.view_actions(view=table, request=request, **args))
        return await _links(_hook("table_actions")(table=table, request=request, **args))

    return actions


async def row_actions(datasette, request, database: str, table: str, row) -> list:
    return await _links(
        pm.hook.row_actions(
            datasette=datasette,
            actor=request.actor,
            request=request,
            database=database,
            table=table,
            row=row,
        )
    )


def database_actions(datasette, request, database: str) -> Callable[[], Awaitable[list]]:
    async def actions() -> list[dict[str, Any]]:
        return await _links(
            _hook("database_actions")(
                datasette=datasette, database=database, actor=request.actor, request=request
            )
        )

    return actions


def query_actions(
    datasette,
    request,
    database: str,
    sql: str,
    params: dict[str, Any],
    query_name: str | None = None,
) -> Callable[[], Awaitable[list]]:
    async def actions() -> list[dict[str, Any]]:
        return await _links(
            pm.hook.query_actions(
                datasette=datasette,
                actor=request.actor,
                database=database,
                query_name=query_name,
                request=request,
                sql=sql,
                params=params,
            )
        )

    return actions
