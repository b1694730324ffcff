"""Tenant isolation: a tenant's requests never reach another tenant's data, by any route."""

from __future__ import annotations

import pytest
import pytest_asyncio
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

    async def call(method, host, path, **kwargs):
        headers = {**token, "host": host, **kwargs.pop("headers", {})}
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
async def test_listings_show_only_the_tenants_own(tenants):
    for path in ("/-/databases.json", "/.json", "/-/apps.json", "/"):
        body = (await tenants("get", GLOBEX, path)).text
        assert "acme" not in body, path
        assert "_dataservice" not in body, path
    databases = (await tenants("get", GLOBEX, "/-/databases.json")).json()["databases"]
    served_by_core = [] if tenants.engine == "postgres" else ["globex--crm_main"]
    assert [d["name"] for d in databases] == served_by_core  # core lists only its SQLite ones
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
