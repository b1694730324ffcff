"""Grants are per tenant: two tenants with an app "crm" each, and grants that name one of them
(a datasette.yml block, a scoped dstok_ token), spelled ``{tenant}--{slug}``."""

from __future__ import annotations

import pytest
import pytest_asyncio
from conftest import close_data_service
from datasette.tokens import TokenRestrictions
from datasette_test import Datasette

ACME, GLOBEX, DEFAULT = "acme.example.com", "globex.example.com", "example.com"
SCHEMA = {
    "fields": [{"name": "id", "type": "integer"}, {"name": "secret", "type": "string"}],
    "primaryKey": ["id"],
}
NEW_SOURCE = {"name": "Extra", "provider_type": "jsonb"}


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def instance(request, tmp_path, postgres_config):
    datasette = Datasette(
        config={
            # alice manages acme's crm (a block naming it) and nothing else
            "databases": {
                "acme--crm": {"permissions": {"dataservice-manage-app": {"id": ["alice", "root"]}}}
            },
            "plugins": {
                "datasette-dataservice": {
                    "data_dir": str(tmp_path / "data"),
                    "rate_limits": False,
                    "tenancy": {"mode": "subdomain", "base_domain": "example.com"},
                    "postgres": postgres_config,
                }
            },
        }
    )
    datasette.root_enabled = True
    await datasette.invoke_startup()
    root = {"Authorization": f"Bearer {await datasette.create_token('root')}"}

    async def call(method, host, path, headers=None, **kwargs):
        headers = {"host": host, **(headers or {})}
        return await getattr(datasette.client, method)(path, headers=headers, **kwargs)

    for host in (ACME, GLOBEX, DEFAULT):
        assert (await call("post", host, "/-/apps", root, json={"name": "CRM"})).status_code == 201
        source = {
            "name": "Main",
            "provider_type": "flat_table",
            "provider_config": {"engine": request.param},
        }
        response = await call("post", host, "/-/apps/crm/datasources", root, json=source)
        assert response.status_code == 201, response.json()
        table = {"name": "people", "json_schema": SCHEMA}
        response = await call(
            "post", host, "/-/apps/crm/datasources/main/datatables", root, json=table
        )
        assert response.status_code == 201, response.json()
    call.datasette, call.root = datasette, root
    yield call
    await close_data_service(datasette)


async def token(instance, actor: str, app: str, *actions: str) -> dict[str, str]:
    restrictions = TokenRestrictions()
    for action in actions:
        restrictions = restrictions.allow_database(app, action)
    value = await instance.datasette.create_token(actor, restrictions=restrictions)
    return {"Authorization": f"Bearer {value}"}


@pytest.mark.asyncio
async def test_a_permissions_block_names_one_tenants_app(instance):
    alice = {"Authorization": f"Bearer {await instance.datasette.create_token('alice')}"}
    response = await instance("post", ACME, "/-/apps/crm/datasources", alice, json=NEW_SOURCE)
    assert response.status_code == 201, response.json()
    for host in (GLOBEX, DEFAULT):  # the same slug elsewhere is another app
        response = await instance("post", host, "/-/apps/crm/datasources", alice, json=NEW_SOURCE)
        assert response.status_code == 403, (host, response.json())


@pytest.mark.asyncio
async def test_a_token_names_one_tenants_app(instance):
    # root's token scoped to acme's crm: root keeps every other grant only without the token
    scoped = await token(instance, "root", "acme--crm", "dataservice-manage-app")
    response = await instance("post", ACME, "/-/apps/crm/datasources", scoped, json=NEW_SOURCE)
    assert response.status_code == 201, response.json()
    for host in (GLOBEX, DEFAULT):
        response = await instance("post", host, "/-/apps/crm/datasources", scoped, json=NEW_SOURCE)
        assert response.status_code == 403, (host, response.json())
    # the default tenant's app keeps its plain slug, and it names that app alone
    plain = await token(instance, "root", "crm", "dataservice-manage-app")
    response = await instance("post", DEFAULT, "/-/apps/crm/datasources", plain, json=NEW_SOURCE)
    assert response.status_code == 201, response.json()
    for host in (ACME, GLOBEX):
        response = await instance("post", host, "/-/apps/crm/datasources", plain, json=NEW_SOURCE)
        assert response.status_code == 403, (host, response.json())


@pytest.mark.asyncio
async def test_a_refusal_never_confirms_another_tenants_app(instance):
    response = await instance("post", ACME, "/-/apps", instance.root, json={"name": "Acme Only"})
    assert response.status_code == 201
    alice = {"Authorization": f"Bearer {await instance.datasette.create_token('alice')}"}
    for headers in ({}, alice):  # anonymous (401 where it exists) and signed in (403)
        for method, path in (
            ("post", "/-/apps/acme-only/datasources"),
            ("patch", "/-/apps/acme-only"),
            ("delete", "/-/apps/acme-only"),
            ("post", "/-/apps/acme-only/restore"),
            ("get", "/-/apps/acme-only.json?include_deleted=1"),
        ):
            kwargs = {"json": NEW_SOURCE} if method in ("post", "patch") else {}
            response = await instance(method, GLOBEX, path, headers, **kwargs)
            assert response.status_code == 404, (method, path, response.text[:200])
            assert "acme" not in response.text.replace("acme-only", "")


@pytest.mark.asyncio
async def test_import_progress_answers_404_from_another_tenant(instance):
    status = "/-/apps/crm/datasources/main/datatables/people/imports/{}.json"
    response = await instance(
        "post",
        ACME,
        "/-/apps/crm/datasources/main/datatables/people/import?format=csv",
        instance.root,
        content=b"id,secret\n1,acme-secret\n",
    )
    assert response.status_code == 201, response.json()
    import_id = response.json()["id"]
    assert (await instance("get", ACME, status.format(import_id))).status_code == 200
    for host in (GLOBEX, DEFAULT):  # the same path names the other tenant's datatable there
        response = await instance("get", host, status.format(import_id), instance.root)
        assert response.status_code == 404, (host, response.text[:200])
        assert "acme-secret" not in response.text
