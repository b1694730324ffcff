"""Error responses that cost milliseconds, for every exception Datasette handles.

Datasette's default ``handle_exception`` prints a ``rich`` traceback with every frame's
locals whenever rich is installed (frictionless brings it): about two seconds per error, and
for a 404 that was never raised (an unrouted path) rich itself fails, turning the 404 into a
500. :func:`replace_default` swaps that handler's response for the same one made here:
Datasette's error shape as JSON for ``.json`` paths and JSON requests, text for ``.csv``,
its error template otherwise; a 500 still prints a plain traceback. With Datasette's
``--pdb`` the default handler is kept, as it is what opens the debugger.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from datasette import Response
from datasette.utils import ValueAsBooleanError, add_cors_headers, error_body, sqlite3
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError
from markupsafe import Markup

DEFAULT_HANDLER_MODULE = "datasette.handle_exception"


def replace_default(results: list[Any], datasette, request, exception) -> list[Any]:
    """The ``handle_exception`` hook results with Datasette's default replaced by ours."""
    if datasette.pdb:
        return results
    kept = [r for r in results if getattr(r, "__module__", None) != DEFAULT_HANDLER_MODULE]
    if len(kept) == len(results):
        return results
    return [*kept, respond(datasette, request, exception)]


def respond(datasette, request, exception: BaseException) -> Callable[[], Awaitable[Response]]:
    async def inner() -> Response:
        return await error_response(datasette, request, exception)

    return inner


def wants_json(request) -> bool:
    """A ``.json`` path, a JSON body, or an Accept header that asks for JSON and not HTML."""
    if request.path.endswith(".json"):
        return True
    if request.headers.get("content-type", "").startswith("application/json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def error_response(datasette, request, exception: BaseException) -> Response:
    """What Datasette's default handler answers, without rich."""
    title = plain_message = None
    info: dict[str, Any] = {}
    if isinstance(exception, Base400):
        status, message = exception.status, exception.args[0] if exception.args else ""
        if message == "404":  # Datasette's placeholder for a path no route matches
            message = f'Not found: no page answers "{request.path}"'
    elif isinstance(exception, DatasetteError):
        status, info = exception.status, exception.error_dict
        message, plain_message = exception.message, exception.plain_message
        if exception.message_is_html:
            message = Markup(message)
        title = exception.title
    elif isinstance(exception, ValueAsBooleanError):
        status, message = 400, bad_boolean_message(request)  # core: a 500 with no message
    elif _bad_in_list(exception):
        status, message = 400, f"Invalid JSON list: {exception}"  # as on PostgreSQL
    elif _bad_facet_sql(exception):
        status, message, title = 400, str(exception), "Invalid SQL"  # as on PostgreSQL
    elif (problem := _bad_facet_config(request, exception)) is not None:
        status, message = 400, problem  # as on PostgreSQL
    else:
        status, message = 500, str(exception)
        traceback.print_exception(exception)
    headers: dict[str, str] = {}
    if datasette.cors:
        add_cors_headers(headers)
    if wants_json(request):
        body = dict(info)
        body.update(error_body(plain_message or message, status))
        return Response.json(body, status=status, headers=headers)
    if request.path.endswith(".csv"):
        return Response.text(plain_message or message, status=status, headers=headers)
    return await error_page(datasette, request, status, message, title, info, headers)


# The query string arguments core reads with ``value_as_boolean``, which raises
# ``ValueAsBooleanError`` (no message) for any other value.
BOOLEAN_ARGUMENTS = ("_json_infinity", "_initial", "_labels")
BOOLEAN_WORDS = ("on", "off", "true", "false", "1", "0")


def bad_boolean_message(request) -> str:
    """What to send instead, naming the argument core could not read as a boolean.

    >>> from datasette.utils.asgi import Request
    >>> bad_boolean_message(Request.fake("/db/t.json?_json_infinity=maybe"))
    '_json_infinity must be on, off, true, false, 1 or 0'
    """
    for name in BOOLEAN_ARGUMENTS:
        for value in request.args.getlist(name):
            if value.lower() not in BOOLEAN_WORDS:
                return f"{name} must be on, off, true, false, 1 or 0"
    return "A boolean argument must be on, off, true, false, 1 or 0"


def _bad_in_list(exception: BaseException) -> bool:
    """Core's ``?col__in=[...`` with a list that is no JSON: its Filters fail with a 500."""
    if not isinstance(exception, ValueError | RecursionError):
        return False
    frames = traceback.extract_tb(exception.__traceback__)
    return any(f.name == "split_value" and f.filename.endswith("filters.py") for f in frames)


def _bad_facet_sql(exception: BaseException) -> bool:
    """Core's facet SQL that SQLite refuses (``?_facet=nope``: "no such column: nope"; an
    array facet of a column that holds no JSON; ``?_where=`` SQL that cuts the facet's SQL
    short): core's ``facet_results`` lets the error through, a 500. Caught here, where it
    surfaces, so that every facet type (``_facet``, ``_facet_date``, ``_facet_array``, from
    the URL or the table's configuration) answers 400, and a valid facet is never checked."""
    if not isinstance(exception, sqlite3.OperationalError):
        return False
    frames = traceback.extract_tb(exception.__traceback__)
    return any(
        f.name == "facet_results" and f.filename.endswith(f"datasette{os.sep}facets.py")
        for f in frames
    )


def _in_core_facets(exception: BaseException) -> bool:
    frames = traceback.extract_tb(exception.__traceback__)
    return any(f.filename.endswith(f"datasette{os.sep}facets.py") for f in frames)


def _bad_facet_config(request, exception: BaseException) -> str | None:
    """A ``_facet*={...}`` JSON configuration core cannot use: JSON that does not parse
    (core's ``load_facet_configs``), or a configuration naming no column (its facet classes
    look up ``"simple"``): a 500 from core. The message is the one the Postgres data plane
    gives (web/postgres/facets.py)."""
    if not _in_core_facets(exception):
        return None
    if isinstance(exception, json.JSONDecodeError):
        return f"Invalid JSON facet configuration: {exception}"
    if not isinstance(exception, KeyError | TypeError | AttributeError):
        return None
    for key in request.args:
        if key == "_facet" or key.startswith("_facet_"):
            for value in request.args.getlist(key):
                if not value.startswith("{"):
                    continue
                config = json.loads(value)
                name = config.get("column") or config.get("simple")
                if not isinstance(name, str):
                    return f"Invalid facet configuration: {json.dumps(config)}"
    return None


async def error_page(
    datasette,
    request,
    status: int,
    message: str,
    title: str | None = None,
    info: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Datasette's HTML error page (its ``{status}.html`` or ``error.html`` template)."""
    context = {**(info or {}), "ok": False, "error": message, "status": status, "title": title}
    template = datasette.get_jinja_environment(request).select_template(
        [f"{status}.html", "error.html"]
    )
    html = await template.render_async(dict(context, urls=datasette.urls, menu_links=list))
    return Response.html(html, status=status, headers=headers)
