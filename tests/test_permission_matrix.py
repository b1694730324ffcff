"""Who may do what: anonymous, a read-only token, a token scoped to one app, and root."""

from __future__ import annotations

import pytest
import pytest_asyncio
from conftest import make_datasette
from datasette.tokens import TokenRestrictions

SCHEMA = {"fields": [{"name": "id", "type": "integer"}], "primaryKey": ["id"]}


@pytest_asyncio.fixture
async def actors(tmp_path):
    ds = make_datasette(
        tmp_path / "data",
        permissions={
            "dataservice-manage-app": {"id": ["alice", "root"]},
            "dataservice-change-schema": {"id": ["alice", "root"]},
            "insert-row": {"id": ["alice", "root"]},
        },
    )
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    for app in ("crm", "hr"):
        await ds.client.post("/-/apps", json={"name": app}, headers=root)
        await ds.client.post(
            f"/-/apps/{app}/datasources",
            json={"name": "main", "provider_type": "flat_table"},
            headers=root,
        )
        await ds.client.post(
            f"/-/apps/{app}/datasources/main/datatables",
            json={"name": "t", "json_schema": SCHEMA},
            headers=root,
        )
    read_only = TokenRestrictions()
    for action in ("view-instance", "view-database", "view-table", "dataservice-view-app"):
        read_only = read_only.allow_all(action)
    crm_only = (
        TokenRestrictions()
        .allow_database("crm", "dataservice-manage-app")
        .allow_database("crm", "dataservice-change-schema")
        .allow_database("crm", "dataservice-view-app")
        .allow_database("crm_main", "insert-row")
    )
    tokens = {
        "anonymous": {},
        "read-only": {
            "Authorization": f"Bearer {await ds.create_token('root', restrictions=read_only)}"
        },
        "crm-scoped": {
            "Authorization": f"Bearer {await ds.create_token('alice', restrictions=crm_only)}"
        },
        "root": root,
    }
    yield ds, tokens
    ds.close()


TABLE = "/-/apps/{app}/datasources/main/datatables/t"
NEW_SCHEMA = {"json_schema": {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "x"}]}}
# (label, method, path, body): expected status for anonymous, read-only, crm-scoped, root
MATRIX = [
    ("list apps", "get", "/-/apps.json", None, (200, 200, 200, 200)),
    ("read app", "get", "/-/apps/crm.json", None, (200, 200, 200, 200)),
    ("create app", "post", "/-/apps", {"name": "new"}, (401, 403, 403, 201)),
    ("update own app", "patch", "/-/apps/crm", {"name": "CRM"}, (401, 403, 200, 200)),
    ("update other app", "patch", "/-/apps/hr", {"name": "HR"}, (401, 403, 403, 200)),
    (
        "add datasource",
        "post",
        "/-/apps/crm/datasources",
        {"name": "more", "provider_type": "jsonb"},
        (401, 403, 201, 201),
    ),
    ("change schema", "put", TABLE.format(app="crm"), NEW_SCHEMA, (401, 403, 200, 200)),
    ("change other schema", "put", TABLE.format(app="hr"), NEW_SCHEMA, (401, 403, 403, 200)),
    ("insert row", "post", "/crm_main/crm_t/-/insert", {"row": {"id": 1}}, (403, 403, 201, 201)),
    (
        "insert other row",
        "post",
        "/hr_main/hr_t/-/insert",
        {"row": {"id": 1}},
        (403, 403, 403, 201),
    ),
    (
        "purge",
        "delete",
        TABLE.format(app="hr") + "?purge=true&confirm=t",
        None,
        (401, 403, 403, 200),
    ),
    # the read-only token is root's, restricted to viewing: it may view the catalog
    ("catalog", "get", "/_dataservice.json", None, (403, 200, 403, 200)),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("who", ["anonymous", "read-only", "crm-scoped", "root"])
async def test_permission_matrix(actors, who):
    ds, tokens = actors
    column = ["anonymous", "read-only", "crm-scoped", "root"].index(who)
    outcomes = {}
    for label, method, path, body, expected in MATRIX:
        kwargs = {"json": body} if body is not None else {}
        response = await getattr(ds.client, method)(path, headers=tokens[who], **kwargs)
        outcomes[label] = (response.status_code, expected[column])
        assert response.status_code < 500, (label, response.text)
    wrong = {label: got for label, got in outcomes.items() if got[0] != got[1]}
    assert not wrong, wrong
