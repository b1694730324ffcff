"""Tenancy: which tenant a request belongs to (from its Host), and what that tenant may see.

Off by default. With ``tenancy: {mode: subdomain, base_domain: example.com}``, a request to
``acme.example.com`` belongs to tenant ``acme`` and one to ``example.com`` itself to the
default tenant ``""``; with ``mode: hosts`` a map names the tenant of each host. Any other
host is refused. A tenant sees its own apps and databases only: another tenant's database
answers 404 as if it did not exist, and is left out of every listing (Datasette's own
included, through the permission rules in ``permissions.py``).
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar

from datasette.utils import error_body, tilde_decode

from .config import CATALOG_DATABASE, Tenancy

# The tenant of the request being served; None when tenancy is off.
current_tenant: ContextVar[str | None] = ContextVar("dataservice_tenant", default=None)
TENANT_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SEPARATOR = "--"
# Core's pages for root that show the whole instance whatever the permission rules say
# (threads named after every database, recent permission checks): the operator's, so served
# on the default tenant's host only.
INSTANCE_DIAGNOSTICS = {"/-/threads", "/-/tasks", "/-/permissions"}


def tenant_of_host(host: str, tenancy: Tenancy) -> str | None:
    """The tenant a Host header names, or None for a host this instance does not serve.

    >>> tenant_of_host("acme.example.com:8001", Tenancy("subdomain", "example.com"))
    'acme'
    >>> tenant_of_host("example.com", Tenancy("subdomain", "example.com"))
    ''
    >>> tenant_of_host("evil.com", Tenancy("subdomain", "example.com")) is None
    True
    """
    host = host.split(":")[0].lower().rstrip(".")
    if tenancy.mode == "hosts":
        return tenancy.hosts.get(host)
    base = tenancy.base_domain.lower()
    if host == base:
        return ""
    if host.endswith("." + base):
        tenant = host[: -len(base) - 1]
        return tenant if TENANT_PATTERN.match(tenant) and SEPARATOR not in tenant else None
    return None


def qualified(tenant: str, name: str) -> str:
    """A tenant's object in the instance-wide namespace of databases and grants: slugs repeat
    across tenants, so another tenant's ``crm`` is ``acme--crm``; the default tenant's is
    plain ``crm``. Slugs never contain ``--``, so the name is unambiguous.

    >>> qualified("acme", "crm"), qualified("", "crm")
    ('acme--crm', 'crm')
    """
    return f"{tenant}{SEPARATOR}{name}" if tenant else name


def tenant_of_database(name: str, managed: set[str]) -> str:
    """A managed database's tenant is its name's prefix; every other database is the
    default tenant's."""
    if name in managed and SEPARATOR in name:
        return name.split(SEPARATOR, 1)[0]
    return ""


def hidden_databases(tenant: str, databases, managed: set[str]) -> list[str]:
    """The databases ``tenant`` must not see: other tenants', and the catalog."""
    hidden = [name for name in databases if tenant_of_database(name, managed) != tenant]
    if tenant and CATALOG_DATABASE in databases and CATALOG_DATABASE not in hidden:
        hidden.append(CATALOG_DATABASE)
    return hidden


def middleware(datasette, app, tenancy: Tenancy, managed: set[str]):
    """ASGI wrapper: resolve the tenant, refuse unknown hosts, 404 other tenants' databases."""

    def postgres_names() -> list[str]:
        from .service.core import _services  # imported late: the service imports this module

        service = _services.get(datasette)
        return list(service.postgres_targets) if service else []

    async def tenant_app(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        tenant = tenant_of_host(host, tenancy)
        if tenant is None:
            return await _refuse(send, 400, f'Unknown host "{host}": no tenant is served there')
        first = scope["path"].lstrip("/").split("/", 1)[0]
        database = tilde_decode(first.split(".", 1)[0]) if first and first != "-" else None
        hidden = hidden_databases(tenant, [*datasette.databases, *postgres_names()], managed)
        if database is not None and database in hidden:
            return await _refuse(send, 404, "Database not found")
        if tenant and scope["path"].split(".")[0] in INSTANCE_DIAGNOSTICS:
            return await _refuse(send, 404, "Not found")
        token = current_tenant.set(tenant)
        try:
            return await app(scope, receive, send)
        finally:
            current_tenant.reset(token)

    return tenant_app


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps(error_body(message, status)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})
