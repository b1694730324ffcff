"""Catalog reads remembered for the rest of one request.

A request checks its target in several places (the handler, the use case, the listing it
calls, the permission hooks of Datasette's pages); each lookup is a catalog round trip, on
PostgreSQL a network one. Within a request the same read answers once, and again after any
catalog write of this process (the key holds ``service.catalog_version``). Nothing outlives
the request, so another node's change is seen by the next request.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_memo: ContextVar[dict | None] = ContextVar("dataservice_request_cache", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """Remember catalog reads until the block ends (one per request: see plugin.asgi_wrapper)."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def asgi_request_scope(app):
    """An ASGI app that runs each HTTP request of ``app`` in its own request_scope."""

    async def scoped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        with request_scope():
            return await app(scope, receive, send)

    return scoped


async def cached_read(service, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``service.read(fn, *args, **kwargs)``, once per request (outside a request: each time).
    Callers get their own copy, so changing what they got changes nothing remembered."""
    memo = _memo.get()
    if memo is None:
        return await service.read(fn, *args, **kwargs)
    key = (id(service), service.catalog_version, fn, args, tuple(sorted(kwargs.items())))
    if key not in memo:
        memo[key] = await service.read(fn, *args, **kwargs)
    return copy.deepcopy(memo[key])
