"""Foreign keys between datatables are checked when a schema is written (ISSUE 13 item 1):
a reference must be a key of the same types, a referenced field cannot change under its
referencing datatables, and a referenced row cannot go while rows still refer to it."""

from __future__ import annotations

import pytest
import pytest_asyncio
from conftest import assert_error, close_data_service, make_datasette, path_of
from test_contract import COMBINATIONS

PARENT = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "code", "type": "string", "constraints": {"unique": True}},
        {"name": "label", "type": "string"},
    ],
    "primaryKey": ["id"],
}


def child_schema(field_type="integer", reference=("id",), resource="parent") -> dict:
    return {
        "fields": [{"name": "id", "type": "integer"}, {"name": "ref", "type": field_type}],
        "primaryKey": ["id"],
        "foreignKeys": [
            {"fields": ["ref"], "reference": {"resource": resource, "fields": list(reference)}}
        ],
    }


class Tables:
    def __init__(self, ds, headers, provider, engine):
        self.ds, self.headers, self.provider, self.engine = ds, headers, provider, engine
        self.base = "/-/apps/shop/datasources/main/datatables"

    async def create(self, name, schema, **extra):
        body = {"name": name, "json_schema": schema, **extra}
        return await self.ds.client.post(self.base, json=body, headers=self.headers)

    async def put_schema(self, name, body, dry_run=False):
        path = f"{self.base}/{name}" + ("/schema/plan" if dry_run else "")
        send = self.ds.client.post if dry_run else self.ds.client.put
        return await send(path, json=body, headers=self.headers)

    async def insert(self, datatable: dict, rows: list[dict], **options):
        if self.provider == "jsonb":
            rows = [{"data": row} for row in rows]
        body = {"rows": rows, **options}
        return await self.ds.client.post(
            path_of(datatable["insert_url"]), json=body, headers=self.headers
        )


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def tables(request, tmp_path, postgres_config):
    provider, engine = request.param
    ds = make_datasette(tmp_path / "data", postgres=postgres_config)
    await ds.invoke_startup()
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    assert (await ds.client.post("/-/apps", json={"name": "shop"}, headers=headers)).is_success
    config = {"engine": engine, **({"connection": "main"} if engine == "postgres" else {})}
    body = {"name": "main", "provider_type": provider, "provider_config": config}
    response = await ds.client.post("/-/apps/shop/datasources", json=body, headers=headers)
    assert response.status_code == 201, response.text
    yield Tables(ds, headers, provider, engine)
    await close_data_service(ds)


@pytest_asyncio.fixture
async def linked(tables):
    """parent(id, code unique, label) with one row, child(id, ref -> parent.id) with one."""
    parent = (await tables.create("parent", PARENT)).json()
    child = (await tables.create("child", child_schema())).json()
    assert (await tables.insert(parent, [{"id": 1, "code": "a"}])).status_code == 201
    assert (await tables.insert(child, [{"id": 1, "ref": 1}])).status_code == 201
    tables.parent, tables.child = parent, child
    return tables


@pytest.mark.asyncio
async def test_a_reference_to_fields_that_are_not_a_key_is_refused(tables):
    parent = (await tables.create("parent", PARENT)).json()
    body = assert_error(await tables.create("child", child_schema("string", ["label"])), 400)
    assert '"label" of datatable "parent" are neither its primary key nor unique' in body["error"]
    self_reference = child_schema(resource="")
    self_reference["foreignKeys"][0]["reference"]["fields"] = ["ref"]
    body = assert_error(await tables.create("tree", self_reference), 400)
    assert '"ref" of this datatable are neither its primary key nor unique' in body["error"]
    # a later schema change cannot add one either, and a unique field is a key
    child = (await tables.create("child", child_schema("string", ["code"]))).json()
    bad = child_schema("string", ["label"])
    assert_error(await tables.put_schema("child", {"json_schema": bad}), 400)
    assert_error(await tables.put_schema("child", {"json_schema": bad}, dry_run=True), 400)
    # writes to both tables keep working (SQLite used to answer 500 "foreign key mismatch")
    assert (await tables.insert(parent, [{"id": 1, "code": "a"}])).status_code == 201
    assert (await tables.insert(child, [{"id": 1, "ref": "a"}])).status_code == 201


@pytest.mark.asyncio
async def test_a_reference_between_fields_of_different_types_is_refused(tables):
    await tables.create("parent", PARENT)
    body = assert_error(await tables.create("child", child_schema("string")), 400)
    assert 'field "ref" is string but "id" of datatable "parent" is integer' in body["error"]
    self_reference = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "up", "type": "string"}],
        "primaryKey": ["id"],
        "foreignKeys": [{"fields": ["up"], "reference": {"resource": "", "fields": ["id"]}}],
    }
    assert_error(await tables.create("tree", self_reference), 400)
    unmaterialized = await tables.create("later", child_schema("number"), materialize=False)
    assert_error(unmaterialized, 400)


@pytest.mark.parametrize(
    "change, renames",
    [
        ({"fields": [{"name": "key", "type": "integer"}, *PARENT["fields"][1:]]}, {"id": "key"}),
        ({"fields": PARENT["fields"][1:], "primaryKey": ["code"]}, None),
        ({"fields": [{"name": "id", "type": "string"}, *PARENT["fields"][1:]]}, None),
        ({"fields": PARENT["fields"], "primaryKey": ["code"]}, None),
    ],
    ids=["rename", "drop", "retype", "no-longer-a-key"],
)
@pytest.mark.asyncio
async def test_a_referenced_field_cannot_change_under_its_references(linked, change, renames):
    schema = {**PARENT, **change}
    if renames:
        schema["primaryKey"] = ["key"]
    body = {"json_schema": schema, **({"renames": renames} if renames else {})}
    refused = assert_error(await linked.put_schema("parent", body, dry_run=True), 409)
    assert 'datatable "child" references "parent"' in refused["error"]
    refused = assert_error(await linked.put_schema("parent", body), 409)
    assert 'change or drop the foreign keys of "child" first' in refused["error"]
    # nothing changed: the child still takes rows that reference the parent
    assert (await linked.insert(linked.child, [{"id": 2, "ref": 1}])).status_code == 201


def row_path(datatable: dict, key, action: str) -> str:
    return path_of(datatable["insert_url"]).rsplit("/-/", 1)[0] + f"/{key}/-/{action}"


@pytest.mark.asyncio
async def test_deleting_a_referenced_row_says_who_refers_to_it(linked):
    ds, headers = linked.ds, linked.headers
    response = await ds.client.post(row_path(linked.parent, 1, "delete"), json={}, headers=headers)
    body = assert_error(response, 409)
    assert (
        'the row of "parent" with id = 1 is still referenced by datatable "child"'
        in (body["error"])
    )
    assert "(its row " in body["error"]
    assert (await linked.insert(linked.parent, [{"id": 2, "code": "b"}])).status_code == 201
    response = await ds.client.post(row_path(linked.parent, 2, "delete"), json={}, headers=headers)
    assert response.status_code == 200, response.text
    # once the child row is gone, the parent row can go too
    response = await ds.client.post(row_path(linked.child, 1, "delete"), json={}, headers=headers)
    assert response.status_code == 200, response.text
    response = await ds.client.post(row_path(linked.parent, 1, "delete"), json={}, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.asyncio
async def test_overwriting_a_referenced_key_says_who_refers_to_it(tables):
    parent = (await tables.create("parent", PARENT)).json()
    child = (await tables.create("child", child_schema("string", ["code"]))).json()
    assert (await tables.insert(parent, [{"id": 1, "code": "a"}])).status_code == 201
    assert (await tables.insert(child, [{"id": 1, "ref": "a"}])).status_code == 201
    expected = 'the row of "parent" with code = \'a\' is still referenced by datatable "child"'
    client, headers, path = tables.ds.client, tables.headers, path_of(parent["insert_url"])

    def rows(row: dict) -> list[dict]:  # jsonb: the document id (1, the first one) says which
        return [{"id": 1, "data": row}] if tables.provider == "jsonb" else [row]

    body = {"rows": rows({"id": 1, "code": "b"}), "replace": True}
    replaced = await client.post(path, json=body, headers=headers)
    assert expected in assert_error(replaced, 409)["error"]
    if tables.provider == "jsonb":  # a document found by the primary key, not by its id
        body = {"rows": [{"data": {"id": 1, "code": "b"}}], "replace": True}
        replaced = await client.post(path, json=body, headers=headers)
        assert expected in assert_error(replaced, 409)["error"]
    body = {"rows": rows({"id": 1, "code": "b"})}
    upserted = await client.post(path.replace("/-/insert", "/-/upsert"), json=body, headers=headers)
    assert expected in assert_error(upserted, 409)["error"]
    update = {"update": {"code": "b"}}
    updated = await client.post(row_path(parent, 1, "update"), json=update, headers=headers)
    assert expected in assert_error(updated, 409)["error"]
    # keeping the referenced value is fine
    body = {"rows": rows({"id": 1, "code": "a", "label": "x"}), "replace": True}
    kept = await client.post(path, json=body, headers=headers)
    assert kept.status_code == 201, kept.text


@pytest.mark.parametrize("itself", ["", "tree"])  # "" or its own name
@pytest.mark.asyncio
async def test_a_row_referenced_by_its_own_table_cannot_be_deleted(tables, itself):
    schema = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "up", "type": "integer"}],
        "primaryKey": ["id"],
        "foreignKeys": [{"fields": ["up"], "reference": {"resource": itself, "fields": ["id"]}}],
    }
    tree = (await tables.create("tree", schema)).json()
    for row in ({"id": 1}, {"id": 2, "up": 1}):
        assert (await tables.insert(tree, [row])).status_code == 201
    if not itself:  # a row that refers only to itself
        assert (await tables.insert(tree, [{"id": 3, "up": 3}])).status_code == 201

    async def delete(key):
        return await tables.ds.client.post(
            row_path(tree, key, "delete"), json={}, headers=tables.headers
        )

    assert 'referenced by datatable "tree"' in assert_error(await delete(1), 409)["error"]
    for key in (2, 1, 3) if not itself else (2, 1):
        response = await delete(key)
        assert response.status_code == 200, response.text


@pytest.mark.asyncio
async def test_a_datatable_is_materialized_after_the_datatables_it_references(tables):
    assert (await tables.create("parent", PARENT, materialize=False)).status_code == 201
    body = assert_error(await tables.create("child", child_schema()), 409)
    assert 'materialize "parent" first' in body["error"]
    later = await tables.create("child", child_schema(), materialize=False)
    assert later.status_code == 201, later.text
    materialize = f"{tables.base}/child/materialize"
    response = await tables.ds.client.post(materialize, json={}, headers=tables.headers)
    assert 'materialize "parent" first' in assert_error(response, 409)["error"]
    parent_materialize = f"{tables.base}/parent/materialize"
    response = await tables.ds.client.post(parent_materialize, json={}, headers=tables.headers)
    assert response.status_code == 200, response.text
    response = await tables.ds.client.post(materialize, json={}, headers=tables.headers)
    assert response.status_code == 200, response.text
    child = response.json()
    assert (await tables.insert(child, [{"id": 1, "ref": 1}])).status_code == 400  # no parent 1
