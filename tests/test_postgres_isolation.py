"""SQL a user writes on a Postgres-backed database cannot learn another datasource's names,
of its own tenant or another: an attacker's battery of catalog queries, casts and error
messages, run from every datasource against the others (ISSUE 12, item 3)."""

from __future__ import annotations

import psycopg
import pytest
import pytest_asyncio
from conftest import (
    RUN_PREFIX,
    _schema_numbers,
    assert_error,
    close_data_service,
    create_app,
    create_datasource,
    make_datasette,
)
from datasette import handle_exception as datasette_errors
from psycopg.conninfo import make_conninfo

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Names found nowhere else on the server (other test runs share it): a datasource's slug
# is in its database name, its schema, its table's and its column's names.
TENANTS = {"acmeqz": ["alphaqz", "bravoqz"], "globexqz": ["gammaqz"]}
APP = "crmqz"  # the same app slug in both tenants, as slugs repeat across tenants

# Every catalog or statistics view a session can read, whole, as one text value each.
CATALOGS = [
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_type",
    "pg_constraint",
    "pg_index",
    "pg_depend",
    "pg_description",
    "pg_default_acl",
    "pg_init_privs",
    "pg_proc",
    "pg_tables",
    "pg_views",
    "pg_indexes",
    "pg_sequences",
    "pg_stats",
    "pg_roles",
    "pg_user",
    "pg_auth_members",
    "pg_database",
    "pg_db_role_setting",
    "pg_shdepend",
    "pg_shdescription",
    "pg_tablespace",
    "pg_locks",
    "pg_prepared_xacts",
    "pg_stat_activity",
    "pg_stat_database",
    "pg_stat_all_tables",
    "pg_stat_user_tables",
    "pg_statio_all_tables",
    "pg_stat_all_indexes",
    "pg_stat_user_functions",
    "pg_stat_xact_all_tables",
    "pg_settings",
    "information_schema.schemata",
    "information_schema.tables",
    "information_schema.columns",
    "information_schema.views",
    "information_schema.table_privileges",
    "information_schema.role_table_grants",
    "information_schema.usage_privileges",
    "information_schema.applicable_roles",
    "information_schema.enabled_roles",
    "information_schema.table_constraints",
]

# Ways to ask whether a name exists; {schema}, {table} and {role} are filled in.
PROBES = [
    "select '{schema}.{table}'::regclass",
    "select to_regclass('{schema}.{table}')",
    "select to_regnamespace('{schema}')",
    "select '{schema}'::regnamespace",
    "select to_regrole('{role}')",
    "select '{role}'::regrole",
    "select has_schema_privilege('{schema}', 'USAGE')",
    "select has_table_privilege('{schema}.{table}', 'SELECT')",
    "select has_database_privilege('{schema}', 'CONNECT')",
    "select pg_has_role('{role}', 'MEMBER')",
    'select * from "{schema}"."{table}"',
    'select * from "{schema}"."{table}"."{table}"',
    'select count(*) from "{table}"',
    "select pg_relation_size('{schema}.{table}')",
    "select * from pg_stat_user_tables where relname = '{table}'",
]


@pytest.fixture(scope="module", autouse=True)
def quiet_errors():
    """Every refused query would print a traceback with its locals (rich)."""
    saved, datasette_errors.rich = datasette_errors.rich, None
    yield
    datasette_errors.rich = saved


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory, postgres_dsn):
    prefix = f"{RUN_PREFIX}{next(_schema_numbers)}_"
    datasette = make_datasette(
        tmp_path_factory.mktemp("isolation") / "data",
        tenancy={"mode": "subdomain", "base_domain": "example.com"},
        postgres={"main": {"dsn": postgres_dsn, "schema_prefix": prefix}},
    )
    await datasette.invoke_startup()
    token = {"Authorization": f"Bearer {await datasette.create_token('root')}"}

    async def call(method, tenant, path, **kwargs):
        headers = {**token, "host": f"{tenant}.example.com"}
        return await getattr(datasette.client, method)(path, headers=headers, **kwargs)

    for tenant, slugs in TENANTS.items():
        assert (await call("post", tenant, "/-/apps", json={"name": APP})).status_code == 201
        for slug in slugs:
            body = {
                "name": slug,
                "provider_type": "flat_table",
                "provider_config": {"engine": "postgres"},
            }
            response = await call("post", tenant, f"/-/apps/{APP}/datasources", json=body)
            assert response.status_code == 201, response.text
            schema = {"fields": [{"name": f"c{slug}", "type": "string"}]}
            response = await call(
                "post",
                tenant,
                f"/-/apps/{APP}/datasources/{slug}/datatables",
                json={"name": f"t{slug}", "json_schema": schema},
            )
            assert response.status_code == 201, response.text
            row = {"row": {f"c{slug}": f"secret of {slug}"}}
            insert = f"/{tenant}--{APP}_{slug}/{APP}_t{slug}/-/insert"
            assert (await call("post", tenant, insert, json=row)).status_code == 201
    call.prefix = prefix
    yield call
    await close_data_service(datasette)


def datasources() -> list[tuple[str, str]]:
    return [(tenant, slug) for tenant, slugs in TENANTS.items() for slug in slugs]


def foreign_names(tenant: str, slug: str) -> list[str]:
    """What SQL on ``tenant``'s datasource ``slug`` must never see: the other datasources'
    slugs (in their databases', schemas', tables' and columns' names) and other tenants."""
    names = [s for _, s in datasources() if s != slug]
    return names + [t for t in TENANTS if t != tenant]


async def query(server, tenant: str, slug: str, sql: str):
    database = f"{tenant}--{APP}_{slug}"
    return await server("get", tenant, f"/{database}/-/query.json", params={"sql": sql})


@pytest.mark.parametrize("tenant, slug", datasources())
async def test_no_catalog_names_another_datasource(server, tenant, slug):
    own = await query(server, tenant, slug, f"select c{slug} from {APP}_t{slug}")
    assert own.status_code == 200 and own.json()["rows"] == [{f"c{slug}": f"secret of {slug}"}]
    seen = []
    for catalog in CATALOGS:
        sql = f"select string_agg(x::text, ' ') as everything from {catalog} x"
        response = await query(server, tenant, slug, sql)
        assert response.status_code in (200, 400), (catalog, response.text)
        seen.append((catalog, response.text))
        if catalog == "pg_attribute":
            assert f"c{slug}" in response.text  # the battery does see what it may see
    for name in foreign_names(tenant, slug):
        leaks = [catalog for catalog, text in seen if name in text]
        assert leaks == [], f"{tenant}/{slug} learns {name!r} from {leaks}"


@pytest.mark.parametrize("tenant, slug", datasources())
async def test_no_probe_tells_a_name_that_exists_from_one_that_does_not(server, tenant, slug):
    """Casts, privilege functions and error messages answer alike for another datasource's
    real schema, table and reader role names and for made-up ones of the same shape."""
    for other_tenant, other in datasources():
        if other == slug:
            continue
        database = f"{other_tenant}--{APP}_{other}"
        real = {
            "schema": f"{server.prefix}{database}",
            "table": f"{APP}_t{other}",
            "role": f"{server.prefix}{database}_reader",
        }
        made_up = {key: value.replace(other, "zzzzzzz") for key, value in real.items()}
        for probe in PROBES:
            answers = []
            for names in (real, made_up):
                response = await query(server, tenant, slug, probe.format(**names))
                text = response.text
                for key in ("schema", "table", "role"):
                    text = text.replace(names[key], "{" + key + "}")
                answers.append((response.status_code, text))
            assert answers[0] == answers[1], (probe, other)


@pytest.mark.parametrize("tenant, slug", datasources())
async def test_where_clauses_and_role_names_tell_nothing(server, tenant, slug):
    """``?_where=`` runs as the same reader; the session's role and database are named
    after no tenant, app or datasource."""
    table = f"/{tenant}--{APP}_{slug}/{APP}_t{slug}.json"
    for name in [slug, *foreign_names(tenant, slug)]:
        where = f"exists (select 1 from pg_namespace where nspname like '%{name}%')"
        response = await server("get", tenant, table, params={"_where": where})
        assert response.status_code == 200, response.text
        assert len(response.json()["rows"]) == (1 if name == slug else 0), name
    sql = "select current_user as role, session_user as login, current_database() as db"
    (row,) = (await query(server, tenant, slug, sql)).json()["rows"]
    assert row["role"] == row["login"] == f"{row['db']}_reader"
    for name in (tenant, APP, slug):
        assert name not in row["role"] and name not in row["db"]


async def test_a_user_without_createdb_gets_a_503_that_says_so(tmp_path, postgres_dsn):
    role = f"{RUN_PREFIX}nocreatedb"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    datasette = make_datasette(
        tmp_path / "data", postgres={"main": {"dsn": make_conninfo(postgres_dsn, user=role)}}
    )
    await datasette.invoke_startup()
    headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    await create_app(datasette, headers, name="shop")
    await create_datasource(
        datasette, headers, "shop", slug="main", provider_config={"engine": "postgres"}
    )
    response = await datasette.client.post(
        "/-/apps/shop/datasources/main/datatables",
        json={"name": "t", "json_schema": {"fields": [{"name": "a"}]}},
        headers=headers,
    )
    assert "its user needs CREATEDB" in assert_error(response, 503)["error"]
    await close_data_service(datasette)
