"""Core's database-level writes, on managed databases: refused, with the way to write instead.

``/{db}/-/execute-write``, ``/{db}/-/create`` and canned write queries write rows without the
row validator (and ``/-/create`` adds tables the catalog does not know). The permission rules
in ``permissions.py`` deny their actions on every managed database, so no actor (root
included) may run them, whatever path reaches them; this module gives those refusals a
message that points at the endpoints that validate. Every other database keeps core's views.
"""

from __future__ import annotations

from datasette.forbidden import forbidden as core_forbidden
from datasette.utils import tilde_decode, tilde_encode
from datasette.views.execute_write import ExecuteWriteView
from datasette.views.table_create_alter import TableCreateView

from ..catalog import store
from ..errors import Forbidden
from ..service.core import is_managed_database, service_for
from . import responses
from .serialize import datasource_path

CORE_VIEWS = {"create": TableCreateView, "execute-write": ExecuteWriteView}


async def refusal(datasette, database: str, what: str = "") -> str:
    """Why a managed database refuses an unvalidated write, and where to write instead."""
    service = service_for(datasette)
    datasource = await service.read(store.datasource_of_database, database)
    base = datasette.urls.path(tilde_encode(database))  # Postgres ones too: not in .databases
    create = ""
    if datasource is not None:
        path = datasource_path(datasource["app_slug"], datasource["slug"])
        create = f"; create tables with POST {path}/datatables"
    return (
        f'{what}Database "{database}" is managed by the data service, which validates every '
        f"row against its Table Schema: write rows with POST {base}/<table>/-/insert, "
        f"{base}/<table>/-/upsert, {base}/<table>/<pk>/-/update or {base}/<table>/<pk>/-/delete, "
        f"or import them with POST .../datatables/<name>/import{create}"
    )


def database_write_view(kind: str, postgres: bool = False):
    """Core's ``/{db}/-/{kind}`` (create, execute-write); with ``postgres``, at the mount of
    Postgres-backed databases, where core has no such view."""

    async def view(datasette, request):
        database = tilde_decode(request.url_vars["database"])
        if postgres or (request.method == "POST" and is_managed_database(datasette, database)):
            return responses.error(Forbidden(await refusal(datasette, database)))
        return await CORE_VIEWS[kind](datasette).dispatch_request(request)

    return view


def forbidden(datasette, request, message: str):
    """Core's 403 for a canned write query of a managed database, with the pointer added
    (``view-query`` is denied for those: see ``permissions.py``)."""
    database, name = request.url_vars.get("database"), request.url_vars.get("table")
    if database is None or name is None:
        return None
    database = tilde_decode(database)
    if not is_managed_database(datasette, database):
        return None

    async def inner():
        query = await datasette.get_query(database, tilde_decode(name))
        if query is not None and query.is_write:
            refused = await refusal(datasette, database, "Write queries cannot run here: ")
            return await core_forbidden(datasette, request, refused)()
        return await core_forbidden(datasette, request, message)()

    return inner
