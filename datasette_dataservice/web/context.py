"""One request to the control plane: who asks, about what, and the answer's format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from datasette.utils.asgi import Forbidden as DatasetteForbidden
from datasette.utils.asgi import NotFound as DatasetteNotFound
from datasette.utils.asgi import Response

from .. import permissions
from ..errors import DataServiceError, Forbidden, MethodNotAllowed
from ..service.core import DataService, service_for
from ..service.lifecycle import started_service
from ..tenancy import current_tenant
from . import requests, responses
from .exceptions import error_page
from .ratelimit import Meter, limiter_for, with_headers
from .serialize import Serializer


@dataclass
class Call:
    datasette: Any
    request: Any
    service: DataService
    tenant: str = ""
    receive: Any = None  # the ASGI receive callable, for handlers that stream the body
    meter: Meter | None = None  # this request's rate limiting; None when limits are off

    @property
    def actor(self) -> dict | None:
        return self.request.actor

    @property
    def actor_id(self) -> str | None:
        return (self.actor or {}).get("id")

    @property
    def vars(self) -> dict[str, str]:
        return self.request.url_vars

    @property
    def serializer(self) -> Serializer:
        return Serializer(self.datasette, self.request)

    async def body(self, allowed: set[str]) -> dict[str, Any]:
        config = self.service.config
        return await requests.json_body(
            self.request, allowed, config.max_body_bytes, config.max_json_depth
        )

    async def allowed(self, action: str, app_slug: str | None = None) -> bool:
        """Whether the actor may ``action`` (on this tenant's app ``app_slug``)."""
        resource = None if app_slug is None else permissions.AppResource.of(self.tenant, app_slug)
        return await self.datasette.allowed(action=action, resource=resource, actor=self.actor)

    async def require(self, action: str, app_slug: str | None = None) -> None:
        """Refuse unless allowed: 404 if this tenant has no (active) app ``app_slug``, so a
        refusal never tells whether a name exists elsewhere; 401/403 otherwise."""
        if not await self.allowed(action, app_slug):
            if app_slug is not None:
                await self.service.app(self.tenant, app_slug)  # NotFound first
            what = f' on app "{app_slug}"' if app_slug else ""
            status = 403 if self.actor else 401
            message = f'Permission denied: "{action}"{what} is required'
            if not self.actor:
                message += "; send an API token as Authorization: Bearer dstok_..."
            raise Forbidden(message, status=status)
        if self.meter is not None:
            await self.meter.action(action)

    async def include_deleted(self, app_slug: str | None = None) -> bool:
        """``?include_deleted=1`` shows soft-deleted items, to actors who may manage them."""
        if not requests.flag(self.request, "include_deleted"):
            return False
        action = permissions.MANAGE_APP if app_slug else permissions.CREATE_APP
        await self.require(action, app_slug)
        return True


Handler = Callable[[Call], Awaitable[Response]]


def _call(datasette, request, service, receive, meter: Meter | None = None) -> Call:
    tenant = current_tenant.get() or ""
    return Call(datasette, request, service, tenant=tenant, receive=receive, meter=meter)


def wants_html(request) -> bool:
    """Datasette's convention: ``/-/...`` without ``.json`` is a page (``/api/`` is JSON)."""
    return (
        request.method == "GET"
        and request.path.startswith("/-/")
        and not (request.path.rstrip("/").endswith(".json"))
    )


def endpoint(html: Handler | None = None, *, uses_catalog: bool = True, **handlers: Handler):
    """A Datasette view serving ``handlers`` by HTTP method, errors in Datasette's shape.

    ``html`` renders the page for browsers; its errors use Datasette's HTML error page.
    Every request is rate limited first (web.ratelimit); the answer carries the headers.
    The first request to a view that ``uses_catalog`` starts the data service.
    """

    async def view(datasette, request, receive) -> Response:
        page = html is not None and wants_html(request)
        try:
            meter = await limiter_for(datasette).meter(request)
            service = await started_service(datasette) if uses_catalog else service_for(datasette)
        except DataServiceError as e:  # 429 or 503: as a page to a browser
            return await _refused_page(datasette, request, e) if page else responses.error(e)
        if page:
            call = _call(datasette, request, service, None, meter)
            return with_headers(await _page(html, call), meter)
        call = _call(datasette, request, service, receive, meter)
        return with_headers(await _api(handlers, call), meter)

    return view


async def _api(handlers: dict[str, Handler], call: Call) -> Response:
    request = call.request
    handler = handlers.get(request.method.lower())
    try:
        if handler is None:
            allowed = ", ".join(sorted(m.upper() for m in handlers))
            raise MethodNotAllowed(
                f"Method {request.method} is not allowed here; use {allowed}",
                headers={"Allow": allowed},
            )
        return await handler(call)
    except DataServiceError as e:
        return responses.error(e)
    except DatasetteForbidden as e:
        return responses.error(Forbidden(f"Permission denied: {e}"))


async def _refused_page(datasette, request, error: DataServiceError) -> Response:
    message = "; ".join(error.errors)
    return await error_page(datasette, request, error.status, message, headers=error.headers)


async def _page(html: Handler, call: Call) -> Response:
    try:
        return await html(call)
    except DataServiceError as e:
        if e.status in (429, 503):  # rate limited: an error page, with its headers
            return await _refused_page(call.datasette, call.request, e)
        if e.status == 404:
            raise DatasetteNotFound(e.errors[0]) from e
        raise DatasetteForbidden(e.errors[0]) from e
