"""``/db/-/query/parameters?sql=`` on a Postgres-backed database: core's endpoint
(``QueryParametersView``) that the SQL editor asks which ``:name`` inputs to show.

The names are read as PostgreSQL reads the SQL (``to_psycopg``: casts such as ``x::int``,
dollar-quoted and ``E''`` strings are no parameters), not by core's SQLite pattern.
"""

from __future__ import annotations

from datasette.resources import DatabaseResource
from datasette.utils import UNSTABLE_API_MESSAGE
from datasette.utils.asgi import Response
from datasette.views.query_helpers import _block_framing

from ...dataplane.postgres.sqltext import to_psycopg
from . import common


def parameter_names(sql: str) -> list[str]:
    """The SQL's ``:name`` parameters in order of first use; ValueError for a magic one.

    >>> parameter_names("select :a, x::int, ':no', :b, :a")
    ['a', 'b']
    """
    names = to_psycopg(sql)[1]
    if any(name.startswith("_") for name in names):
        raise ValueError("Magic parameters are not allowed")
    return names


@common.view
async def parameters_view(datasette, request) -> Response:
    _, database = common.target_of(datasette, request)
    if not await datasette.allowed(
        action="execute-sql", resource=DatabaseResource(database), actor=request.actor
    ):
        return _block_framing(Response.error(["Permission denied: need execute-sql"], 403))
    invalid = set(request.args) - {"sql"}
    if invalid:
        message = "Invalid keys: {}".format(", ".join(sorted(invalid)))
        return _block_framing(Response.error([message], 400))
    try:
        names = parameter_names(request.args.get("sql") or "")
    except ValueError as error:
        return _block_framing(Response.error([str(error)], 400))
    body = {"ok": True, "unstable": UNSTABLE_API_MESSAGE, "parameters": names}
    return _block_framing(Response.json(body))
