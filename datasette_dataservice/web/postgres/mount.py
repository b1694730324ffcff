"""Mounts Postgres-backed databases at Datasette's own URLs.

Datasette routes ``/{database}/...`` to its SQLite views, and the set of Postgres-backed
databases changes at run time, so no route pattern can tell them apart. This ASGI wrapper
does: a request whose first path segment names a Postgres-backed database is re-pointed at
``PG_MOUNT`` + its path, where the plugin's own views serve it (with the actor, permissions
and error pages Datasette's router provides). Every other request passes through untouched.

``PG_MOUNT`` is internal: the wrapper marks the requests it re-points, and every view under
the mount (``through_mount``) answers 404 to any request without the mark, so the mount is
only reachable at the public URL, behind the same checks (tenancy among them) as every other
request for that database.
"""

from __future__ import annotations

import inspect

from datasette.utils import add_cors_headers, error_body
from datasette.utils.asgi import Response

from ...service.core import _services

PG_MOUNT = "/-/dataservice/postgres"
MOUNTED = "dataservice.postgres_mount"  # the scope key the wrapper sets on what it re-points


def postgres_database_of(datasette, path: str) -> str | None:
    """The Postgres-backed database a request path (without base_url) names, if any."""
    service = _services.get(datasette)
    if service is None or not service.postgres_targets:
        return None
    first = path.lstrip("/").split("/", 1)[0]
    name = first.split(".", 1)[0]
    return name if name in service.postgres_targets else None


def mount(datasette, app):
    async def mounted(scope, receive, send):
        if scope["type"] == "http":
            base = datasette.setting("base_url").rstrip("/")
            path = scope["path"]
            if path.startswith(base + "/") and postgres_database_of(datasette, path[len(base) :]):
                rest = path[len(base) :]
                raw = scope.get("raw_path") or path.encode()
                scope = dict(
                    scope,
                    path=base + PG_MOUNT + rest,
                    raw_path=base.encode() + PG_MOUNT.encode() + raw[len(base) :],
                    **{MOUNTED: True},
                )
        await app(scope, receive, send)

    return mounted


def preflight(datasette) -> Response:
    """A CORS preflight (``OPTIONS``), answered as core's views answer it on every path: 200
    ``ok``, with the CORS headers under ``--cors``, so that a browser on another origin may
    then send its request with a token."""
    response = Response.text("ok")
    if datasette.cors:
        add_cors_headers(response.headers)
    return response


def through_mount(view):
    """``view`` (a route under ``PG_MOUNT``) for re-pointed requests only; 404 otherwise."""
    wanted = inspect.signature(view).parameters  # read once, not per request

    # Not functools.wraps: Datasette passes the arguments the signature names, and this
    # wrapper takes them all whatever ``view`` takes.
    async def guarded(datasette, request, scope, send, receive):
        if not scope.get(MOUNTED):
            return Response.json(error_body(f"{request.path} not found", 404), status=404)
        if request.method == "OPTIONS":
            return preflight(datasette)
        available = {
            "datasette": datasette,
            "request": request,
            "scope": scope,
            "send": send,
            "receive": receive,
        }
        return await view(**{name: available[name] for name in wanted})

    return guarded
