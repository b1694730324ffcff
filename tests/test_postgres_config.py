"""Named Postgres connections: configuration, choice per datasource, and the DSN kept secret."""

from __future__ import annotations

import logging
import pathlib
import re
import sqlite3

import pytest
from conftest import assert_error, close_data_service, create_app, make_datasette

from datasette_dataservice.config import DataServiceConfig

SECRET = "s3cret-pw-7f1"


def test_dsn_from_an_environment_variable(monkeypatch):
    monkeypatch.setenv("SHOP_PG", f"postgresql://app:{SECRET}@db.example/shop")
    config = DataServiceConfig.from_plugin_config(
        {"postgres": {"main": {"dsn_env": "SHOP_PG", "schema_prefix": "x_"}}}
    )
    connection = config.postgres["main"]
    assert connection.dsn.endswith("@db.example/shop")
    assert connection.schema_prefix == "x_"
    assert SECRET not in repr(config)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"main": {}}, "exactly one of dsn or dsn_env"),
        ({"main": {"dsn": "x", "dsn_env": "Y"}}, "exactly one of dsn or dsn_env"),
        ({"main": {"dsn_env": "NOT_SET_ANYWHERE_42"}}, "is not set"),
        ({"main": {"dsn": "x", "password": "y"}}, "Unknown postgres.main key"),
        ({"main": "postgresql://x"}, "must be a mapping"),
        (["main"], "postgres must map"),
    ],
)
def test_bad_connection_config_is_refused_at_startup(raw, message):
    with pytest.raises(ValueError, match=message):
        DataServiceConfig.from_plugin_config({"postgres": raw})


async def _datasource(ds, headers, config):
    return await ds.client.post(
        "/-/apps/shop/datasources",
        json={"name": "main", "provider_type": "flat_table", "provider_config": config},
        headers=headers,
    )


@pytest.mark.asyncio
async def test_postgres_needs_a_configured_connection(tmp_path):
    ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, headers, name="shop")
    body = assert_error(await _datasource(ds, headers, {"engine": "postgres"}), 501)
    assert "no PostgreSQL connection is configured" in body["error"]
    await close_data_service(ds)


@pytest.mark.asyncio
async def test_a_datasource_picks_a_connection_by_name(pg_ds):
    headers = {"Authorization": f"Bearer {await pg_ds.create_token('root')}"}
    await create_app(pg_ds, headers, name="shop")
    body = assert_error(
        await _datasource(pg_ds, headers, {"engine": "postgres", "connection": "other"}), 400
    )
    assert body["error"].endswith("connection: main")
    response = await _datasource(pg_ds, headers, {"engine": "postgres"})  # the only one
    assert response.status_code == 201, response.text
    config = response.json()["provider_config"]
    assert config == {"engine": "postgres", "connection": "main", "database": config["database"]}
    # A database of its own, with a random name under the connection's prefix.
    prefix = pg_ds.plugin_config("datasette-dataservice")["postgres"]["main"]["schema_prefix"]
    assert re.fullmatch(re.escape(prefix) + "ds_[0-9a-f]{16}", config["database"])


@pytest.mark.asyncio
async def test_schema_names_postgres_would_truncate_are_refused(pg_ds):
    headers = {"Authorization": f"Bearer {await pg_ds.create_token('root')}"}
    app = "an-application-with-a-rather-long-name"
    await create_app(pg_ds, headers, name=app)
    response = await pg_ds.client.post(
        f"/-/apps/{app}/datasources",
        json={
            "name": "x",
            "slug": "and-a-long-datasource-slug-too",
            "provider_type": "flat_table",
            "provider_config": {"engine": "postgres"},
        },
        headers=headers,
    )
    assert "63 bytes" in assert_error(response, 400)["error"]


@pytest.mark.asyncio
async def test_the_dsn_never_leaves_the_configuration(tmp_path, caplog):
    """An unreachable server with a password in its DSN: every answer says the connection's
    name, never the DSN; nor do the catalog, /-/config.json or the log."""
    dsn = f"postgresql://postgres:{SECRET}@127.0.0.1:1/test?connect_timeout=1"
    ds = make_datasette(tmp_path / "data", postgres={"main": {"dsn": dsn}})
    await ds.invoke_startup()
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    caplog.set_level(logging.DEBUG)
    await create_app(ds, headers, name="shop")
    created = await _datasource(ds, headers, {"engine": "postgres", "connection": "main"})
    assert created.status_code == 201
    table = await ds.client.post(
        "/-/apps/shop/datasources/main/datatables",
        json={"name": "t", "json_schema": {"fields": [{"name": "a", "type": "string"}]}},
        headers=headers,
    )
    body = assert_error(table, 503)
    assert 'PostgreSQL connection "main"' in body["error"]
    responses = [
        created.text,
        table.text,
        (await ds.client.get("/-/config.json", headers=headers)).text,
        (await ds.client.get("/-/apps/shop/operations.json", headers=headers)).text,
        (await ds.client.get("/-/apps/shop/datasources/main.json", headers=headers)).text,
    ]
    catalog = pathlib.Path(tmp_path / "data" / "catalog.db").read_bytes()
    for text in [*responses, caplog.text]:
        assert SECRET not in text
    assert SECRET.encode() not in catalog
    await close_data_service(ds)


@pytest.mark.asyncio
async def test_user_sql_reads_only_its_own_datasource(pg_ds):
    """Every datasource shares the connection's role; SQL a user writes runs as the
    datasource's reader role instead, so it cannot reach another datasource (or another
    tenant's) schema, nor the server's files."""
    headers = {"Authorization": f"Bearer {await pg_ds.create_token('root')}"}
    await create_app(pg_ds, headers, name="shop")
    schema = {"fields": [{"name": "secret", "type": "string"}]}
    for slug in ("one", "two"):
        response = await pg_ds.client.post(
            "/-/apps/shop/datasources",
            json={
                "name": slug,
                "provider_type": "flat_table",
                "provider_config": {"engine": "postgres"},
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        response = await pg_ds.client.post(
            f"/-/apps/shop/datasources/{slug}/datatables",
            json={"name": "t", "json_schema": schema},
            headers=headers,
        )
        assert response.status_code == 201, response.text
    insert = await pg_ds.client.post(
        "/shop_two/shop_t/-/insert", json={"row": {"secret": "two's"}}, headers=headers
    )
    assert insert.status_code == 201
    prefix = pg_ds.plugin_config("datasette-dataservice")["postgres"]["main"]["schema_prefix"]
    own = await pg_ds.client.get(
        "/shop_one/-/query.json", params={"sql": "select count(*) as n from shop_t"}
    )
    assert own.status_code == 200 and own.json()["rows"] == [{"n": 0}]
    for sql in [
        f'select * from "{prefix}shop_two".shop_t',
        "select pg_read_file('/etc/hostname')",
        "select current_setting('data_directory')",
    ]:
        response = await pg_ds.client.get("/shop_one/-/query.json", params={"sql": sql})
        assert response.status_code == 400, (sql, response.text)
        assert "two's" not in response.text
    where = f'exists (select 1 from "{prefix}shop_two".shop_t)'
    response = await pg_ds.client.get("/shop_one/shop_t.json", params={"_where": where})
    assert response.status_code == 400, response.text


@pytest.mark.asyncio
async def test_a_catalog_from_before_gives_each_datasource_a_database(tmp_path, postgres_config):
    """Datasources created before each had a database of their own get one at start-up."""
    ds = make_datasette(tmp_path / "data", postgres=postgres_config)
    await ds.invoke_startup()
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, headers, name="shop")
    assert (await _datasource(ds, headers, {"engine": "postgres"})).status_code == 201
    await close_data_service(ds)
    with sqlite3.connect(tmp_path / "data" / "catalog.db") as conn:
        conn.execute(
            "UPDATE datasources SET provider_config = json_remove(provider_config, '$.database')"
        )
    ds = make_datasette(tmp_path / "data", postgres=postgres_config)
    await ds.invoke_startup()
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    shown = await ds.client.get("/-/apps/shop/datasources/main.json", headers=headers)
    prefix = postgres_config["main"]["schema_prefix"]
    assert re.fullmatch(
        re.escape(prefix) + "ds_[0-9a-f]{16}", shown.json()["provider_config"]["database"]
    )
    table = await ds.client.post(
        "/-/apps/shop/datasources/main/datatables",
        json={"name": "t", "json_schema": {"fields": [{"name": "a"}]}},
        headers=headers,
    )
    assert table.status_code == 201, table.text
    await close_data_service(ds)
