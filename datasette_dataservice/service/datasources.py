"""DataSources: create (attaching their storage), update, soft delete, restore."""

from __future__ import annotations

import json
from typing import Any

from ..catalog import store
from ..errors import BadRequest, Conflict
from ..providers.postgres_isolation import MAX_IDENTIFIER_BYTES, new_database_name, reader_role
from ..providers.postgres_storage import schema_name
from ..schema.names import database_name, slug_problem, slugify
from .change import apply_change
from .core import DataService
from .inputs import Problems, text

ENGINES = ("sqlite", "postgres")
PROVIDER_CONFIG_KEYS = {"engine", "connection"}
IMMUTABLE_KEYS = ("slug", "provider_type", "provider_config")


def _provider_config(
    body: dict[str, Any], problems: Problems, default_engine: str
) -> dict[str, Any]:
    config = body.get("provider_config")
    if config is None:
        return {"engine": default_engine}
    if not isinstance(config, dict):
        problems.add('"provider_config" must be an object, e.g. {"engine": "sqlite"}')
        return {}
    unknown = sorted(set(config) - PROVIDER_CONFIG_KEYS)
    if unknown:
        problems.add(
            f'unknown "provider_config" key(s): {", ".join(unknown)}; known keys are '
            f"{', '.join(sorted(PROVIDER_CONFIG_KEYS))}"
        )
    engine = config.get("engine", default_engine)
    if engine not in ENGINES:
        problems.add(f'"provider_config.engine" must be one of {", ".join(ENGINES)}')
    return {**config, "engine": engine}


def _node_local_problem(service: DataService, engine: str) -> str | None:
    """With a shared catalog any node serves any datasource, so its data must be where every
    node reaches it: a SQLite file lives on one node only."""
    if engine == "sqlite" and service.config.catalog.shared:
        return (
            '"provider_config.engine" "sqlite" keeps data in one node\'s data directory, and '
            "this instance shares its catalog with other nodes (catalog.engine: postgres): "
            'use {"engine": "postgres"} (the default here)'
        )
    return None


async def create_datasource(
    service: DataService, tenant: str, actor: str | None, app_slug: str, body: dict[str, Any]
) -> dict:
    app = await service.app(tenant, app_slug)
    problems = Problems()
    name = text(body, "name", problems, required=True)
    description = text(body, "description", problems) or ""
    slug = text(body, "slug", problems) or (slugify(name) if name else None)
    if name and not slug:
        problems.add('could not derive a slug from "name"; give a "slug" explicitly')
    elif slug:
        problems.add(slug_problem(slug, "datasource"))
    provider_type = text(body, "provider_type", problems, required=True)
    default_engine = "postgres" if service.config.catalog.shared else "sqlite"
    config = _provider_config(body, problems, default_engine)
    problems.add(_node_local_problem(service, config.get("engine")))
    problems.raise_if_any()
    service.provider_class(provider_type, config["engine"])  # refuses unknown/unavailable ones
    if config["engine"] == "postgres":
        config["connection"] = service.postgres_connection_name(config.get("connection"))
        config["database"] = _postgres_names(service, config["connection"], app_slug, slug, tenant)

    values = {
        "name": name,
        "slug": slug,
        "description": description,
        "provider_type": provider_type,
        "provider_config": config,
        "engine": config["engine"],
        "database_name": database_name(app_slug, slug, tenant),
    }

    def create(conn, done) -> dict:
        if store.slug_exists(conn, "datasources", "app_id", app["id"], slug):
            raise Conflict(f'App "{app_slug}" already has a datasource with slug "{slug}"')
        return {"datasource_id": store.insert_datasource(conn, app["id"], values)}

    details = {"provider_type": provider_type, "engine": config["engine"]}
    about = {"tenant": tenant, "app_id": app["id"], "app_slug": app_slug, "slug": slug}
    entry = _about_datasource(about, actor, "create_datasource", details=details)
    await apply_change(service, entry, catalog=create)
    service.attach_datasource(values)
    return await service.datasource(tenant, app_slug, slug)


def _postgres_names(
    service: DataService, connection: str, app_slug: str, slug: str, tenant: str
) -> str:
    """A new datasource's PostgreSQL database (random: it is listed to every session on
    the server), once its names are known to fit PostgreSQL's limit."""
    prefix = service.config.postgres[connection].schema_prefix
    schema = schema_name(prefix, database_name(app_slug, slug, tenant))
    if len(schema.encode()) > MAX_IDENTIFIER_BYTES:
        raise BadRequest(
            f'the Postgres schema name "{schema}" would be longer than PostgreSQL\'s '
            f"{MAX_IDENTIFIER_BYTES} bytes; choose a shorter datasource slug"
        )
    database = new_database_name(prefix)
    if len(reader_role(database).encode()) > MAX_IDENTIFIER_BYTES:
        raise BadRequest(
            f'the schema_prefix of PostgreSQL connection "{connection}" is too long: '
            f"database and role names would exceed {MAX_IDENTIFIER_BYTES} bytes"
        )
    return database


async def update_datasource(
    service: DataService,
    tenant: str,
    actor: str | None,
    app_slug: str,
    slug: str,
    body: dict[str, Any],
) -> dict:
    datasource = await service.datasource(tenant, app_slug, slug)
    problems = Problems()
    for key in IMMUTABLE_KEYS:
        if key in body and body[key] != _current(datasource, key):
            problems.add(
                f'"{key}" cannot be changed after a datasource is created; create a new '
                "datasource instead"
            )
    changes = {}
    if "name" in body:
        changes["name"] = text(body, "name", problems, required=True)
    if "description" in body:
        changes["description"] = text(body, "description", problems) or ""
    problems.raise_if_any()

    details = {"before": {k: datasource[k] for k in changes}, "after": changes}
    await apply_change(
        service,
        _about_datasource(datasource, actor, "update_datasource", details=details),
        catalog=lambda conn, done: store.update_row(conn, "datasources", datasource["id"], changes),
    )
    return await service.datasource(tenant, app_slug, slug)


def _about_datasource(datasource: dict, actor: str | None, operation: str, **extra) -> dict:
    """The audit columns of an operation on a datasource (a catalog row, or the columns
    tenant, app_id, app_slug and slug of one being created)."""
    return dict(
        tenant=datasource["tenant"],
        app_id=datasource["app_id"],
        datasource_id=datasource.get("id"),
        operation=operation,
        target_type="datasource",
        target=f"{datasource['app_slug']}/{datasource['slug']}",
        actor=actor,
        **extra,
    )


def _current(datasource: dict, key: str) -> Any:
    if key == "provider_config":
        return json.loads(datasource["provider_config"])
    return datasource[key]


async def delete_datasource(
    service: DataService, tenant: str, actor: str | None, app_slug: str, slug: str
) -> dict:
    datasource = await service.datasource(tenant, app_slug, slug)

    await apply_change(
        service,
        _about_datasource(datasource, actor, "delete_datasource"),
        catalog=lambda conn, done: store.soft_delete_datasource(conn, datasource["id"]),
    )
    service.detach(datasource["database_name"])
    return await service.datasource(tenant, app_slug, slug, include_inactive=True)


async def restore_datasource(
    service: DataService, tenant: str, actor: str | None, app_slug: str, slug: str
) -> dict:
    datasource = await service.datasource(tenant, app_slug, slug, include_inactive=True)
    if datasource["is_active"]:
        raise Conflict(f'DataSource "{slug}" is not deleted; there is nothing to restore')

    await apply_change(
        service,
        _about_datasource(datasource, actor, "restore_datasource"),
        catalog=lambda conn, done: store.restore_datasource(
            conn, datasource["id"], datasource["deleted_at"]
        ),
    )
    service.attach_datasource(datasource)
    return await service.datasource(tenant, app_slug, slug)
