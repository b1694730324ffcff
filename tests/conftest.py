"""Shared fixtures: a Datasette with the plugin on a fresh data directory, and tokens."""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import socket
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest
import pytest_asyncio
from datasette_test import Datasette

# The PostgreSQL the tests talk to: the local server by default (ISSUE 5); in CI a missing
# server fails the run instead of skipping the Postgres tests.
POSTGRES_DSN = os.environ.get(
    "DATASERVICE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
# The Redis the rate limit tests share limits through (a key prefix per test, removed after).
REDIS_URL = os.environ.get("DATASERVICE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Every schema, database and role this run creates starts with this, so runs never collide
# and clean up after.
RUN_PREFIX = f"dst{uuid.uuid4().hex[:6]}_"
_schema_numbers = itertools.count(1)

USERS_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {
            "name": "email",
            "type": "string",
            "format": "email",
            "constraints": {"required": True},
        },
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "created_at", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}


# DATASERVICE_TEST_CATALOG=postgres runs every test that configures the Postgres connection
# "main" with its catalog in that server too (the suite's Postgres cases, on the other engine).
TEST_CATALOG = os.environ.get("DATASERVICE_TEST_CATALOG", "sqlite")


def make_datasette(data_dir, permissions=None, settings=None, **plugin_config) -> Datasette:
    """A Datasette with the plugin; rate limits are off unless a test configures them."""
    plugin_config.setdefault("rate_limits", False)
    if TEST_CATALOG == "postgres" and "main" in (plugin_config.get("postgres") or {}):
        plugin_config.setdefault("catalog", {"engine": "postgres", "connection": "main"})
    datasette = Datasette(
        plugin_config={"datasette-dataservice": {"data_dir": str(data_dir), **plugin_config}},
        permissions=permissions,
        settings=settings,
    )
    datasette.root_enabled = True
    return datasette


@pytest_asyncio.fixture
async def ds(tmp_path):
    datasette = make_datasette(tmp_path / "data")
    await datasette.invoke_startup()
    yield datasette
    datasette.close()


@pytest.fixture(scope="session")
def postgres_dsn():
    """The test server's DSN; skips (or, with CI=true, fails) when it is not reachable."""
    try:
        psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and PostgreSQL is not reachable: {error}")
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    yield POSTGRES_DSN
    drop_run_databases(POSTGRES_DSN)
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (RUN_PREFIX + "%",)
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        roles = conn.execute(  # the datasources' reader roles (cluster-wide)
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (RUN_PREFIX + "%",)
        ).fetchall()
        for (role,) in roles:  # readers log in: end any session a test left open first
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(f'DROP OWNED BY "{role}" CASCADE')
            conn.execute(f'DROP ROLE "{role}"')


def redis_problem() -> str | None:
    """None if the tests' Redis answers PING, else why not."""
    url = urlsplit(REDIS_URL)
    address = (url.hostname or "127.0.0.1", url.port or 6379)
    try:
        with socket.create_connection(address, timeout=2) as redis:
            redis.sendall(b"PING\r\n")
            reply = redis.recv(64)
    except OSError as e:
        return f"Redis is not reachable at {address[0]}:{address[1]}: {e!r}"
    return None if reply.startswith(b"+PONG") else f"Redis answered PING with {reply!r}"


@pytest.fixture(scope="session")
def redis_url():
    """The tests' Redis URL; skips (or, with CI=true, fails) when it does not answer."""
    if problem := redis_problem():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {problem}")
        pytest.skip(problem)
    return REDIS_URL


def drop_run_databases(dsn: str) -> None:
    """Drop the databases this run's datasources were given. Each DROP DATABASE waits for a
    checkpoint; several at once share one."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        databases = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (RUN_PREFIX + "%",)
        ).fetchall()

    def drop(database: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(drop, [name for (name,) in databases]))


@pytest.fixture
def postgres_config(postgres_dsn):
    """Plugin config for one named connection ("main") whose schemas are this test's own."""
    prefix = f"{RUN_PREFIX}{next(_schema_numbers)}_"
    return {"main": {"dsn": postgres_dsn, "schema_prefix": prefix}}


async def close_data_service(datasette) -> None:
    """Close the Postgres pools a test's Datasette opened, then Datasette itself."""
    from datasette_dataservice.service.core import _services

    service = _services.get(datasette)
    if service is not None:
        await service.close()
    datasette.close()


def runs_on_postgres(request) -> bool:
    """Whether this test is a Postgres case: one of its parameters (or its fixtures') names
    the postgres engine, alone or in a (provider, engine) pair."""
    callspec = getattr(request.node, "callspec", None)
    values = callspec.params.values() if callspec else ()
    return any(v == "postgres" or (isinstance(v, tuple) and "postgres" in v) for v in values)


def postgres_config_for(request) -> dict | None:
    """``postgres_config`` for a Postgres case, None for any other: only Postgres cases
    request the server, so only they skip (or fail under CI) without one."""
    return request.getfixturevalue("postgres_config") if runs_on_postgres(request) else None


@pytest_asyncio.fixture
async def engine_ds(request, tmp_path):
    """``ds`` for a test parametrized over engines: with the Postgres connection "main" in
    its Postgres cases, without it (and without a server) in its SQLite ones."""
    datasette = make_datasette(tmp_path / "data", postgres=postgres_config_for(request))
    await datasette.invoke_startup()
    yield datasette
    await close_data_service(datasette)


@pytest_asyncio.fixture
async def pg_ds(tmp_path, postgres_config):
    """A Datasette whose data service has a Postgres connection named "main"."""
    datasette = make_datasette(tmp_path / "data", postgres=postgres_config)
    await datasette.invoke_startup()
    yield datasette
    await close_data_service(datasette)


@pytest_asyncio.fixture
async def root(ds):
    """Headers that authenticate as root with a real dstok_ token."""
    token = await ds.create_token("root")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def users_schema():
    return {**USERS_SCHEMA, "fields": [dict(f) for f in USERS_SCHEMA["fields"]]}


async def create_app(ds, headers, name="My Application", **extra):
    response = await ds.client.post("/-/apps", json={"name": name, **extra}, headers=headers)
    assert response.status_code == 201, response.json()
    return response.json()


async def create_datasource(ds, headers, app, slug="users-db", provider_type="flat_table", **extra):
    response = await ds.client.post(
        f"/-/apps/{app}/datasources",
        json={
            "name": slug.replace("-", " ").title(),
            "slug": slug,
            "provider_type": provider_type,
            **extra,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    return response.json()


async def create_datatable(ds, headers, app, datasource, name, schema, **extra):
    response = await ds.client.post(
        f"/-/apps/{app}/datasources/{datasource}/datatables",
        json={"name": name, "json_schema": schema, **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    return response.json()


def path_of(url: str) -> str:
    """The path and query of an absolute URL from a response, for ds.client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


ISO_SECONDS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"  # the seed's "2024-10-30T12:00:00Z"


def assert_error(response, status: int) -> dict:
    """Assert Datasette's error shape ``{"ok": false, "error", "errors", "status"}``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) - {"report"} == {"ok", "error", "errors", "status"}, body
    assert body["ok"] is False and body["status"] == status
    assert body["errors"] and all(isinstance(e, str) and e for e in body["errors"])
    assert body["error"] == "; ".join(body["errors"])
    return body


async def insert_row(ds, headers, datatable: dict, row: dict):
    """Insert one row through Datasette's own write API at the datatable's ``insert_url``."""
    if datatable["provider_type"] == "jsonb":
        row = {"data": row}
    return await ds.client.post(
        path_of(datatable["insert_url"]), json={"row": row}, headers=headers
    )
