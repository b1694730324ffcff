"""Tenant isolation: a tenant's requests never reach another tenant's data, by any route."""

from __future__ import annotations

import pytest
import pytest_asyncio
import route_paths
from conftest import close_data_service, make_datasette, postgres_config_for

ACME, GLOBEX = "acme.example.com", "globex.example.com"
SCHEMA = {
    "fields": [{"name": "id", "type": "integer"}, {"name": "secret", "type": "string"}],
    "primaryKey": ["id"],
}


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def tenants(request, tmp_path):
    datasette = make_datasette(
        tmp_path / "data",
        tenancy={"mode": "subdomain", "base_domain": "example.com"},
        postgres=postgres_config_for(request),
    )
    await datasette.invoke_startup()
    token = {"Authorization": f"Bearer {await datasette.create_token('root')}"}

    async def call(method, host, path, anonymous=False, **kwargs):
        headers = {**({} if anonymous else token), "host": host, **kwargs.pop("headers", {})}
        return await getattr(datasette.client, method)(path, headers=headers, **kwargs)

    for host, secret in ((ACME, "acme-secret"), (GLOBEX, "globex-secret")):
        assert (await call("post", host, "/-/apps", json={"name": "CRM"})).status_code == 201
        response = await call(
            "post",
            host,
            "/-/apps/crm/datasources",
            json={
                "name": "Main",
                "provider_type": "flat_table",
                "provider_config": {"engine": request.param},
            },
        )
        assert response.status_code == 201, response.json()
        response = await call(
            "post",
            host,
            "/-/apps/crm/datasources/main/datatables",
            json={"name": "people", "json_schema": SCHEMA},
        )
        assert response.status_code == 201, response.json()
        insert = f"/{response.json()['database']}/crm_people/-/insert"
        response = await call("post", host, insert, json={"row": {"id": 1, "secret": secret}})
        assert response.status_code == 201, response.json()
    call.engine = request.param
    call.datasette = datasette
    yield call
    await close_data_service(datasette)


@pytest.mark.asyncio
async def test_same_slugs_live_side_by_side(tenants):
    for host, database in ((ACME, "acme--crm_main"), (GLOBEX, "globex--crm_main")):
        app = (await tenants("get", host, "/-/apps/crm.json")).json()
        assert app["datasource_count"] == 1
        source = (await tenants("get", host, "/-/apps/crm/datasources/main.json")).json()
        assert source["database"] == database


PROBES = [
    ("get", "/acme--crm_main.json"),
    ("get", "/acme--crm_main/crm_people.json"),
    ("get", "/acme--crm_main/crm_people/1.json"),
    ("get", "/acme--crm_main/-/query.json?sql=select+*+from+crm_people"),
    ("get", "/acme--crm_main/crm_people"),
    ("post", "/acme--crm_main/crm_people/-/insert"),
    ("post", "/acme--crm_main/crm_people/-/drop"),
    ("get", "/acme--crm_main.db"),
    ("get", "/_dataservice.json"),
    ("get", "/_dataservice/apps.json"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("method, path", PROBES)
async def test_another_tenants_database_does_not_exist(tenants, method, path):
    kwargs = {"json": {"row": {"id": 2}}} if method == "post" else {}
    response = await tenants(method, GLOBEX, path, **kwargs)
    assert response.status_code == 404, (path, response.text[:200])
    assert "acme-secret" not in response.text


@pytest.mark.asyncio
async def test_the_postgres_mount_is_internal(tenants):
    """Postgres-backed databases are served at their public URLs only: the internal mount
    they are re-pointed to answers 404 to a request made for it, even from the tenant's host."""
    public = "/acme--crm_main/crm_people.json"
    assert (await tenants("get", ACME, public)).status_code == 200
    for path in ("/-/dataservice/postgres" + public, "/-/dataservice/postgres/acme--crm_main"):
        response = await tenants("get", ACME, path)
        assert response.status_code == 404, (path, response.text[:200])
        assert "acme-secret" not in response.text


@pytest.mark.asyncio
async def test_listings_show_only_the_tenants_own(tenants):
    for path in ("/-/databases.json", "/.json", "/-/apps.json", "/"):
        body = (await tenants("get", GLOBEX, path)).text
        assert "acme" not in body, path
        assert "_dataservice" not in body, path
    databases = (await tenants("get", GLOBEX, "/-/databases.json")).json()["databases"]
    assert [d["name"] for d in databases] == ["globex--crm_main"]  # on either engine
    rows = (await tenants("get", GLOBEX, "/globex--crm_main/crm_people.json")).json()["rows"]
    assert rows == [{"id": 1, "secret": "globex-secret"}]


@pytest.mark.asyncio
async def test_control_plane_is_scoped(tenants):
    response = await tenants("post", GLOBEX, "/-/apps", json={"name": "Only Globex"})
    assert response.status_code == 201
    assert_missing = [
        ("get", "/-/apps/only-globex.json"),
        ("get", "/-/apps/only-globex/stats.json"),
        ("get", "/-/apps/only-globex/operations.json"),
        ("delete", "/-/apps/only-globex"),
        ("patch", "/-/apps/only-globex"),
    ]
    for method, path in assert_missing:
        kwargs = {"json": {"name": "x"}} if method == "patch" else {}
        response = await tenants(method, ACME, path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
    apps = (await tenants("get", ACME, "/-/apps.json")).json()
    assert [a["slug"] for a in apps["apps"]] == ["crm"]
    stats = (await tenants("get", ACME, "/-/apps/crm/stats.json")).json()
    assert stats["row_count"] == 1


@pytest.mark.asyncio
async def test_unknown_host_is_refused_clearly(tenants):
    response = await tenants("get", "evil.com", "/-/apps.json")
    assert response.status_code == 400
    assert "Unknown host" in response.json()["error"]


@pytest.mark.asyncio
async def test_the_base_domain_is_the_default_tenant(tenants):
    apps = (await tenants("get", "example.com", "/-/apps.json")).json()
    assert apps["count"] == 0
    response = await tenants("get", "example.com", "/-/databases.json")
    databases = [d["name"] for d in response.json()["databases"]]
    assert "acme--crm_main" not in databases and "globex--crm_main" not in databases


@pytest.mark.asyncio
async def test_every_documented_route_with_another_tenants_identifiers_is_404(tenants):
    """Walk the OpenAPI document: each path filled with acme's names, asked from globex."""
    document = (await tenants("get", GLOBEX, "/-/apps/openapi.json")).json()
    values = {"{app}": "crm", "{ds}": "main", "{table}": "people", "{import_id}": "0"}
    probed = 0
    # acme's datasource also exists at globex under the same slugs, so give acme a unique app
    response = await tenants("post", ACME, "/-/apps", json={"name": "Acme Only"})
    assert response.status_code == 201
    for path, operations in document["paths"].items():
        if "{app}" not in path:
            continue
        concrete = path
        for placeholder, value in values.items():
            concrete = concrete.replace(placeholder, value)
        concrete = concrete.replace("/-/apps/crm", "/-/apps/acme-only", 1)
        for method in operations:
            kwargs = {"json": {}} if method in ("post", "put", "patch") else {}
            response = await tenants(method, GLOBEX, concrete, **kwargs)
            assert response.status_code == 404, (method, concrete, response.text[:200])
            assert "acme" not in response.text.lower().replace("acme-only", ""), concrete
            probed += 1
    assert probed > 30


# Path parameters that name tenant objects; a route with any of them, filled with acme's names,
# must answer 404 from globex whoever asks and however.
NAMING_GROUPS = {"database", "table", "pks", "query", "app", "ds", "import_id"}
# Root by every method; anonymous reads, and writes by POST (the other write methods reach the
# same permission checks).
ASKS = [
    *((method, False) for method in ("get", "post", "put", "patch", "delete")),
    ("get", True),
    ("post", True),
]
# Answers decided by the path's shape before any lookup (a trailing slash redirects, a route
# serves some methods only): allowed when a name that exists nowhere gets the same.
SHAPE_STATUSES = {301, 302, 405}


async def acme_only_objects(tenants) -> dict[str, str]:
    """An app, datasource, datatable, row and import that exist at acme alone."""
    base = "/-/apps/acme-only/datasources/vault"
    for path, body in (
        ("/-/apps", {"name": "Acme Only"}),
        (
            "/-/apps/acme-only/datasources",
            {
                "name": "Vault",
                "provider_type": "flat_table",
                "provider_config": {"engine": tenants.engine},
            },
        ),
        (base + "/datatables", {"name": "secrets", "json_schema": SCHEMA}),
    ):
        response = await tenants("post", ACME, path, json=body)
        assert response.status_code == 201, response.json()
    upload = b"id,secret\n1,acme-only-secret\n"
    response = await tenants(
        "post", ACME, base + "/datatables/secrets/import?format=csv", content=upload
    )
    assert response.status_code == 201, response.json()
    return {
        "database": "acme--acme-only_vault",
        "table": "acme_only_secrets",
        "pks": "1",
        "query": "acme_only_query",
        "format": "json",
        "app": "acme-only",
        "ds": "vault",
        "import_id": response.json()["id"],
    }


def nowhere(path: str, values: dict[str, str]) -> str:
    """``path`` with the names of acme's objects replaced by names no tenant has."""
    names = sorted((values[g] for g in NAMING_GROUPS - {"pks"}), key=len, reverse=True)
    for number, name in enumerate(names):
        path = path.replace(name, f"nowhere{number}")
    return path


@pytest.mark.asyncio
async def test_every_registered_route_keeps_to_its_tenant(tenants):
    """Walk every route Datasette serves (core's and the plugin's, the Postgres mount
    included): with acme's names in its path, asked from globex, anonymous or root, by every
    method, each answers 404 (or the redirect or 405 a name that exists nowhere gets);
    routes that name nothing never show acme's data."""
    acme = await acme_only_objects(tenants)
    walked = set()

    for pattern, _view in tenants.datasette._routes():
        control_plane = "app" in pattern.groupindex
        values = {**acme, "table": "secrets"} if control_plane else acme
        names_acme = bool(NAMING_GROUPS & set(pattern.groupindex))
        for path in sorted(route_paths.concrete_paths(pattern, values)):
            for method, anonymous in ASKS:
                kwargs = {"json": {}} if method in ("post", "put", "patch") else {}
                response = await tenants(method, GLOBEX, path, anonymous=anonymous, **kwargs)
                status, text = response.status_code, response.text
                where = (method, path, "anonymous" if anonymous else "root", text[:300])
                if names_acme and status in SHAPE_STATUSES:
                    elsewhere = nowhere(path, values)
                    control = await tenants(
                        method, GLOBEX, elsewhere, anonymous=anonymous, **kwargs
                    )
                    assert control.status_code == status, (*where, elsewhere)
                elif names_acme:
                    assert status == 404, where
                assert status < 500, where
                for value in values.values():  # the names globex itself sent may come back
                    text = text.replace(value, "")
                assert "acme" not in text.lower(), where
            walked.add(pattern.pattern)
    assert len(walked) > 90  # every route yielded at least one path
    rows = await tenants("get", ACME, f"/{acme['database']}/{acme['table']}.json")
    assert rows.json()["rows"] == [{"id": 1, "secret": "acme-only-secret"}]
