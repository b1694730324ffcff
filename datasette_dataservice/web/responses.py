"""Responses in Datasette's shapes: ``{"ok": true, ...}`` and its one error shape."""

from __future__ import annotations

import urllib.parse
from typing import Any

from datasette.utils import error_body
from datasette.utils.asgi import Response

from ..errors import DataServiceError
from ..service.listing import Page
from .serialize import timestamp


def ok(data: dict[str, Any], status: int = 200, headers: dict | None = None) -> Response:
    return Response.json({"ok": True, **data}, status=status, headers=headers)


def error(exception: DataServiceError) -> Response:
    """Every refusal goes through here: ``{"ok": false, "error", "errors", "status"}``."""
    body = error_body(exception.errors, exception.status)
    if exception.report is not None:
        body["report"] = exception.report
    return Response.json(body, status=exception.status, headers=exception.headers)


def page(datasette, request, key: str, page: Page, items: list[dict[str, Any]]) -> Response:
    """A list in Datasette's keyset style, with ``next`` and the absolute ``next_url``."""
    next_url = None
    if page.next is not None:
        args = [
            (k, v)
            for k, v in urllib.parse.parse_qsl(request.query_string, keep_blank_values=True)
            if k != "_next"
        ] + [("_next", page.next)]
        path = request.path + "?" + urllib.parse.urlencode(args)
        next_url = datasette.absolute_url(request, path)
    return ok({"count": page.count, key: items, "next": page.next, "next_url": next_url})


def stats(data: dict[str, Any]) -> Response:
    return ok({**data, "last_operation_at": timestamp(data["last_operation_at"])})
