"""Apps: create, update, soft delete (cascading), restore."""

from __future__ import annotations

from typing import Any

from ..catalog import store
from ..errors import Conflict
from ..schema.names import RESERVED_APP_SLUGS, slug_problem, slugify
from .change import apply_change
from .core import DataService
from .inputs import Problems, text


async def create_app(
    service: DataService, tenant: str, actor: str | None, body: dict[str, Any]
) -> dict:
    problems = Problems()
    name = text(body, "name", problems, required=True)
    description = text(body, "description", problems) or ""
    slug = text(body, "slug", problems)
    derived = not slug
    if derived and name:
        slug = slugify(name)
        if not slug:
            problems.add('could not derive a slug from "name"; give a "slug" explicitly')
    elif slug:
        problems.add(slug_problem(slug, "app"))
    problems.raise_if_any()

    def create(conn, done) -> dict:
        final_slug = slug
        if derived:
            final_slug = _first_free_slug(conn, tenant, slug)
        elif store.slug_exists(conn, "apps", "tenant", tenant, slug):
            raise Conflict(f'An app with slug "{slug}" already exists')
        app_id = store.insert_app(conn, tenant, name, final_slug, description)
        return {"app_id": app_id, "target": final_slug}

    details = {"name": name, "description": description}
    entry = _about_app(tenant, None, "", actor, "create_app", details=details)
    done = await apply_change(service, entry, catalog=create)
    return await service.app(tenant, done.entry["target"])


def _about_app(tenant: str, app_id: int | None, slug: str, actor, operation: str, **extra) -> dict:
    """The audit columns of an operation on an app."""
    return dict(
        tenant=tenant,
        app_id=app_id,
        operation=operation,
        target_type="app",
        target=slug,
        actor=actor,
        **extra,
    )


def _first_free_slug(conn, tenant: str, slug: str) -> str:
    candidate, n = slug, 2
    while candidate in RESERVED_APP_SLUGS or store.slug_exists(
        conn, "apps", "tenant", tenant, candidate
    ):
        suffix = f"-{n}"
        candidate = slug[: 50 - len(suffix)] + suffix
        n += 1
    return candidate


async def update_app(
    service: DataService, tenant: str, actor: str | None, slug: str, body: dict[str, Any]
) -> dict:
    app = await service.app(tenant, slug)
    problems = Problems()
    changes = {}
    if "name" in body:
        changes["name"] = text(body, "name", problems, required=True)
    if "description" in body:
        changes["description"] = text(body, "description", problems) or ""
    problems.raise_if_any()

    details = {"before": {k: app[k] for k in changes}, "after": changes}
    await apply_change(
        service,
        _about_app(tenant, app["id"], slug, actor, "update_app", details=details),
        catalog=lambda conn, done: store.update_row(conn, "apps", app["id"], changes),
    )
    return await service.app(tenant, slug)


async def delete_app(service: DataService, tenant: str, actor: str | None, slug: str) -> dict:
    app = await service.app(tenant, slug)

    await apply_change(
        service,
        _about_app(tenant, app["id"], slug, actor, "delete_app"),
        catalog=lambda conn, done: store.soft_delete_app(conn, app["id"]),
    )
    await service.attach_app_datasources(app["id"], attached=False)
    return await service.app(tenant, slug, include_inactive=True)


async def restore_app(service: DataService, tenant: str, actor: str | None, slug: str) -> dict:
    app = await service.app(tenant, slug, include_inactive=True)
    if app["is_active"]:
        raise Conflict(f'App "{slug}" is not deleted; there is nothing to restore')

    await apply_change(
        service,
        _about_app(tenant, app["id"], slug, actor, "restore_app"),
        catalog=lambda conn, done: store.restore_app(conn, app["id"], app["deleted_at"]),
    )
    await service.attach_app_datasources(app["id"], attached=True)
    return await service.app(tenant, slug)
